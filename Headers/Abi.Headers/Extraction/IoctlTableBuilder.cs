using System.Globalization;
using System.Text.RegularExpressions;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Builds the ioctl table. Which macros are request codes, and their argument types, clang says
/// (<see cref="IoctlArgumentResolver"/>); codes that encode size and direction speak for
/// themselves. iommufd and VFIO use plain <c>_IO</c>, so their argument comes from kernel-doc
/// (<c>struct x - ioctl(NAME)</c> in iommufd.h, <c>NAME - _IOWR(..., struct x)</c> in vfio.h),
/// corrected and completed by <see cref="IoctlOverrides"/>.
/// </summary>
internal sealed partial class IoctlTableBuilder
{
    private readonly IoctlOverrides _overrides;
    private readonly HeaderFiles _files;
    private readonly string _target;
    private readonly IoctlArgumentResolver _resolver;
    private readonly List<ExtractionNote> _notes;
    private readonly IReadOnlyCollection<RecordDecl> _records;

    // records: the extractor's list, live, because resolving argument types may describe more.
    public IoctlTableBuilder(IoctlOverrides overrides, HeaderFiles files, string target, IoctlArgumentResolver resolver, List<ExtractionNote> notes, IReadOnlyCollection<RecordDecl> records)
    {
        _records = records;
        _overrides = overrides;
        _files = files;
        _target = target;
        _resolver = resolver;
        _notes = notes;
    }

    public List<IoctlDecl> Build(IReadOnlyList<MacroDecl> macros)
    {
        Dictionary<string, DocumentedIoctl> documented = ScanComments();
        List<MacroDecl> integers = macros.Where(m => m.Kind == MacroKind.Integer).ToList();
        (Dictionary<string, IoctlArgumentResolver.Found> found, Dictionary<string, TypeRef> overrideTypes) = _resolver.Resolve(integers);
        var table = new List<IoctlDecl>();
        foreach (MacroDecl macro in integers)
        {
            // A request code that is a plain number (i2c-dev's I2C_SLAVE is 0x0703) is an ioctl when an override says so.
            if (!found.TryGetValue(macro.Name, out IoctlArgumentResolver.Found? shape) && _overrides.For(macro.Name) is { Skip: false })
            {
                shape = new IoctlArgumentResolver.Found(IoctlArgumentResolver.Shape.None, null);
            }

            if (shape is null
                || !ulong.TryParse(macro.Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)
                || value > uint.MaxValue)
            {
                continue;
            }

            uint request = (uint)value;
            IoctlNumber number = IoctlNumber.Decode(request, _target);
            IoctlArgKind argument = IoctlArgKind.None;
            string? structName = null;
            TypeRef? argumentType = null;
            IoctlDirection direction = number.Direction;
            IoctlSource source = IoctlSource.Encoding;
            DocComment? doc = null;

            switch (shape.Shape)
            {
                case IoctlArgumentResolver.Shape.Typed when shape.Argument is TypeRef type:
                    (argument, structName, argumentType) = Classify(type);
                    break;
                case IoctlArgumentResolver.Shape.Typed:
                    Note(ExtractionNoteKind.Skipped, macro, "its argument type could not be described");
                    continue;
                case IoctlArgumentResolver.Shape.Raw when number.Direction != IoctlDirection.None && number.Size > 0:
                    // _IOC(dir, type, nr, size) names a size only: the argument is that many bytes.
                    argument = IoctlArgKind.Pointer;
                    argumentType = Bytes(number.Size);
                    break;
            }

            if (documented.TryGetValue(macro.Name, out DocumentedIoctl? fromDoc))
            {
                doc = fromDoc.Doc;
                if (number.Direction == IoctlDirection.None)
                {
                    (argument, structName) = fromDoc.Argument is null ? (IoctlArgKind.None, null) : ClassifyDocumented(fromDoc.Argument);
                    direction = fromDoc.Direction ?? IoctlDirection.InOut;
                    source = IoctlSource.KernelDoc;
                }
            }

            FdKind fdKind = _overrides.FdKindOf(macro.Name);
            IoctlOverride? fix = _overrides.For(macro.Name);
            if (fix is { Skip: true })
            {
                continue;
            }

            // An entry that only names the minimum size leaves the argument as the header says it.
            if (fix is { Argument: not null } or { Struct: not null } or { Type: not null } or { Direction: not null } or { FdKind: not null })
            {

                if (fix.Type is not null)
                {
                    if (!overrideTypes.TryGetValue(macro.Name, out TypeRef? overridden))
                    {
                        Note(ExtractionNoteKind.Skipped, macro, $"its override names the type '{fix.Type}', which does not resolve in these headers");
                        continue;
                    }

                    // "pointer" to a record or an int is the struct or int pointer those kinds already are.
                    (IoctlArgKind kind, structName, argumentType) = Classify(overridden);
                    argument = fix.Argument is null or IoctlArgKind.Pointer ? kind : fix.Argument.Value;
                    if (argument == IoctlArgKind.Value)
                    {
                        argumentType = overridden;
                    }
                }
                else
                {
                    argument = fix.Argument ?? (fix.Struct is not null ? IoctlArgKind.Struct : argument);
                    structName = argument == IoctlArgKind.Struct ? fix.Struct ?? structName : null;
                }

                if (argument is IoctlArgKind.None or IoctlArgKind.String or IoctlArgKind.IntPointer)
                {
                    argumentType = null;
                }

                direction = fix.Direction ?? direction;
                fdKind = fix.FdKind ?? fdKind;
                source = IoctlSource.Override;
            }

            if (argument == IoctlArgKind.Struct && !_records.Any(r => r.Name == structName))
            {
                Note(ExtractionNoteKind.Skipped, macro, $"its argument is given as struct {structName}, which the headers do not declare; correct it in an ioctl override file");
                continue;
            }

            (string? minMember, int? minSize) = (null, null);
            if (fix?.MinSizeMember is string member)
            {
                FieldDecl? field = argument == IoctlArgKind.Struct ? _records.First(r => r.Name == structName).Fields.FirstOrDefault(f => f.Name == member) : null;
                if (field is null)
                {
                    Note(ExtractionNoteKind.Skipped, macro, $"its override names '{member}' as the last mandatory member, which its argument does not have; the minimum size is left out");
                }
                else
                {
                    (minMember, minSize) = (member, field.Offset + field.Size);
                }
            }

            table.Add(new IoctlDecl
            {
                Name = macro.Name,
                FdKind = fdKind,
                Request = request,
                Type = number.Type,
                Number = number.Number,
                EncodedDirection = number.Direction,
                EncodedSize = number.Size,
                Argument = argument,
                Struct = structName,
                ArgumentType = argument is IoctlArgKind.Pointer or IoctlArgKind.Value ? argumentType : null,
                MinSizeMember = minMember,
                MinSize = minSize,
                Direction = direction,
                Source = source,
                Doc = doc,
            });
        }

        return table;
    }

    private void Note(ExtractionNoteKind kind, MacroDecl macro, string reason) =>
        _notes.Add(new ExtractionNote { Kind = kind, Location = macro.Location, Subject = "#define " + macro.Name, Reason = reason });

    /// <summary>A typed argument: a record is a struct pointer, an int the classic int pointer, anything else a typed pointer.</summary>
    private static (IoctlArgKind Kind, string? Struct, TypeRef? Type) Classify(TypeRef type) => type switch
    {
        { Kind: TypeKind.Record, ArrayLengths.Count: 0, IsFlexibleArray: false } => (IoctlArgKind.Struct, type.Name, null),
        { Kind: TypeKind.Int32, ArrayLengths.Count: 0, IsFlexibleArray: false } => (IoctlArgKind.IntPointer, null, null),
        _ => (IoctlArgKind.Pointer, null, type),
    };

    private static TypeRef Bytes(int size) => new()
    {
        Spelling = $"__u8[{size.ToString(CultureInfo.InvariantCulture)}]",
        Kind = TypeKind.UInt8,
        ElementSize = 1,
        ArrayLengths = new[] { size }.ToEquatableArray(),
    };

    /// <summary>Every kernel-doc block of the headers that documents an ioctl, by ioctl name.</summary>
    private Dictionary<string, DocumentedIoctl> ScanComments()
    {
        var found = new Dictionary<string, DocumentedIoctl>(StringComparer.Ordinal);
        foreach (string header in _files.PathByName.Keys)
        {
            foreach (Match comment in DocBlock().Matches(_files.ReadText(header)))
            {
                if (KernelDoc.Parse(comment.Value, anyComment: true) is not KernelDoc doc)
                {
                    continue;
                }

                // iommufd.h: "struct iommu_ioas_map - ioctl(IOMMU_IOAS_MAP)"
                Match iommufd = IommufdTitle().Match(doc.Title + " - " + doc.Summary);
                if (iommufd.Success)
                {
                    found.TryAdd(iommufd.Groups[2].Value, new DocumentedIoctl("struct " + iommufd.Groups[1].Value, null, WithoutMembers(doc)));
                    continue;
                }

                // vfio.h: "VFIO_DEVICE_GET_INFO - _IOR(VFIO_TYPE, VFIO_BASE + 7, struct vfio_device_info)"
                Match vfio = EncodedTitle().Match(doc.Summary);
                if (vfio.Success)
                {
                    IoctlDirection direction = vfio.Groups[1].Value switch
                    {
                        "R" => IoctlDirection.Out,
                        "W" => IoctlDirection.In,
                        "WR" => IoctlDirection.InOut,
                        _ => IoctlDirection.None,
                    };
                    string? argument = vfio.Groups[2].Success ? vfio.Groups[2].Value.Trim() : null;
                    string rest = doc.Description ?? string.Empty;
                    found.TryAdd(doc.Title, new DocumentedIoctl(argument, direction, new DocComment
                    {
                        Summary = FirstSentence(rest),
                        Description = rest.Length == 0 ? null : rest,
                    }));
                }
            }
        }

        return found;
    }

    private static DocComment WithoutMembers(KernelDoc doc) => new()
    {
        Summary = doc.Description is null ? doc.Summary : FirstSentence(doc.Description),
        Description = doc.Description,
    };

    private static string FirstSentence(string text)
    {
        string flat = string.Join(" ", text.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries));
        int end = flat.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? flat : flat[..(end + 1)];
    }

    private static (IoctlArgKind Kind, string? Struct) ClassifyDocumented(string type)
    {
        Match record = RecordType().Match(type);
        if (record.Success)
        {
            return (IoctlArgKind.Struct, record.Groups[1].Value);
        }

        return type switch
        {
            "" => (IoctlArgKind.None, null),
            "char" => (IoctlArgKind.String, null),
            _ => (IoctlArgKind.IntPointer, null),
        };
    }

    private sealed record DocumentedIoctl(string? Argument, IoctlDirection? Direction, DocComment Doc);

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex DocBlock();

    [GeneratedRegex(@"^struct\s+(\w+)\s+-\s+ioctl\((\w+)\)")]
    private static partial Regex IommufdTitle();

    [GeneratedRegex(@"^_IO(R|W|WR)?\s*\(\s*\w+\s*,\s*[^,()]+?(?:,\s*([^()]+?))?\s*\)")]
    private static partial Regex EncodedTitle();

    [GeneratedRegex(@"^(?:struct|union)\s+(\w+)$")]
    private static partial Regex RecordType();
}
