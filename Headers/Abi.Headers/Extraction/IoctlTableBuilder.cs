using System.Globalization;
using System.Text.RegularExpressions;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Builds the ioctl table. Request codes that encode size and direction (<c>_IOR/_IOW/_IOWR</c>)
/// speak for themselves. iommufd and VFIO use plain <c>_IO</c>, so their argument comes from
/// kernel-doc (<c>struct x - ioctl(NAME)</c> in iommufd.h, <c>NAME - _IOWR(..., struct x)</c> in
/// vfio.h), corrected and completed by <see cref="IoctlOverrides"/>.
/// </summary>
internal sealed partial class IoctlTableBuilder
{
    private static readonly string[] s_ioctlMacros = ["_IO", "_IOR", "_IOW", "_IOWR"];

    private readonly IoctlOverrides _overrides;
    private readonly HeaderFiles _files;
    private readonly string _target;

    public IoctlTableBuilder(IoctlOverrides overrides, HeaderFiles files, string target)
    {
        _overrides = overrides;
        _files = files;
        _target = target;
    }

    public List<IoctlDecl> Build(IReadOnlyList<MacroDecl> macros, IReadOnlyList<RecordDecl> records)
    {
        Dictionary<string, DocumentedIoctl> documented = ScanComments();
        var recordNames = new HashSet<string>(records.Select(r => r.Name), StringComparer.Ordinal);
        var table = new List<IoctlDecl>();
        foreach (MacroDecl macro in macros)
        {
            string[] body = macro.Body.Split(' ');
            if (macro.Kind != MacroKind.Integer || !s_ioctlMacros.Contains(body[0]) || body.Length < 2 || body[1] != "(")
            {
                continue;
            }

            uint request = uint.Parse(macro.Value!, CultureInfo.InvariantCulture);
            IoctlNumber number = IoctlNumber.Decode(request, _target);
            IoctlArgKind argument = IoctlArgKind.None;
            string? structName = null;
            IoctlDirection direction = number.Direction;
            IoctlSource source = IoctlSource.Encoding;
            DocComment? doc = null;

            if (number.Direction != IoctlDirection.None)
            {
                // _IOx(type, nr, T): the argument type is the third macro argument.
                string type = ThirdArgument(body);
                (argument, structName) = ClassifyArgument(type);
                if (argument == IoctlArgKind.IntPointer && number.Size != sizeof(int))
                {
                    throw new ExtractionException(
                        $"{macro.Name}: a {number.Size}-byte scalar argument ('{type}') has no typed wrapper yet; only int-sized scalars and structs are supported");
                }
            }

            if (documented.TryGetValue(macro.Name, out DocumentedIoctl? fromDoc))
            {
                doc = fromDoc.Doc;
                if (number.Direction == IoctlDirection.None)
                {
                    (argument, structName) = fromDoc.Argument is null ? (IoctlArgKind.None, null) : ClassifyArgument(fromDoc.Argument);
                    direction = fromDoc.Direction ?? IoctlDirection.InOut;
                    source = IoctlSource.KernelDoc;
                }
            }

            if (_overrides.For(macro.Name) is IoctlOverride fix)
            {
                argument = fix.Argument ?? (fix.Struct is not null ? IoctlArgKind.Struct : argument);
                structName = argument == IoctlArgKind.Struct ? fix.Struct ?? structName : null;
                direction = fix.Direction ?? direction;
                source = IoctlSource.Override;
            }

            if (argument == IoctlArgKind.Struct && !recordNames.Contains(structName!))
            {
                throw new ExtractionException(
                    $"{macro.Name}: its argument is documented as struct {structName}, which the headers do not declare; correct it in the ioctl override table");
            }

            table.Add(new IoctlDecl
            {
                Name = macro.Name,
                FdKind = _overrides.FdKindOf(macro.Name),
                Request = request,
                Type = number.Type,
                Number = number.Number,
                EncodedDirection = number.Direction,
                EncodedSize = number.Size,
                Argument = argument,
                Struct = structName,
                Direction = direction,
                Source = source,
                Doc = doc,
            });
        }

        return table;
    }

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

    private static string ThirdArgument(string[] body)
    {
        // Tokens: _IOR ( type , nr , T... ) with nested parentheses in type or nr.
        int depth = 0, commas = 0, start = -1;
        for (int i = 1; i < body.Length; i++)
        {
            switch (body[i])
            {
                case "(":
                    depth++;
                    break;
                case ")":
                    depth--;
                    if (depth == 0)
                    {
                        return start < 0 ? string.Empty : string.Join(" ", body[start..i]);
                    }

                    break;
                case "," when depth == 1:
                    commas++;
                    if (commas == 2)
                    {
                        start = i + 1;
                    }

                    break;
            }
        }

        return string.Empty;
    }

    private static (IoctlArgKind Kind, string? Struct) ClassifyArgument(string type)
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
