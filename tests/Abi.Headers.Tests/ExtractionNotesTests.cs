using System.Globalization;
using Abi.Headers.Extraction;
using Abi.Headers.Packages;
using Abi.Model;
using Microsoft.CodeAnalysis;
using TypeKind = Abi.Model.TypeKind;

namespace Abi.Headers.Tests;

/// <summary>
/// What cannot be described is left out or kept as bytes, never a failed build: each case is a note
/// in the model with the C file and line, and a warning from the generator at that file and line.
/// </summary>
public sealed class ExtractionNotesTests(LinuxHeadersFixture linux)
{
    private AbiModel Extract(IoctlOverrides? overrides)
    {
        var options = LinuxHeadersFixture.Options(HeaderProfile.Find("7.2"), linux.Headers["7.2"], "x86_64-linux-gnu") with
        {
            Headers = ["constructs.h"],
            IncludeDirectories = [Path.Combine(RepoPaths.Root, "tests", "TestHeaders", "include"), .. linux.Headers["7.2"].IncludeDirectories("x86_64-linux-gnu")],
            Overrides = overrides,
        };
        using var extractor = new HeaderExtractor(options);
        return extractor.Extract();
    }

    [Fact]
    public void TypesWithNoCSharpEquivalent_AreOpaqueBytes_WithAWarningAtTheirLine()
    {
        AbiModel model = Extract(null);
        RecordDecl wide = model.Records.Single(r => r.Name == "cx_wide");
        FieldDecl scale = wide.Fields.Single(f => f.Name == "scale");
        FieldDecl big = wide.Fields.Single(f => f.Name == "big");
        Assert.Equal((TypeKind.UInt8, 16, 16), (scale.Type.Kind, scale.Type.ArrayLengths.Single(), scale.Offset));
        Assert.Equal((TypeKind.UInt8, 16, 48), (big.Type.Kind, big.Type.ArrayLengths.Single(), big.Offset));

        GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "Notes", "CxIoctls");
        List<Diagnostic> opaque = outcome.Generator.Where(d => d.Id == "ABI0102").ToList();
        Assert.Equal(2, opaque.Count);
        Assert.All(opaque, d => Assert.Equal(("constructs.h", DiagnosticSeverity.Warning), (d.Location.GetLineSpan().Path, d.Severity)));
        Assert.Contains(opaque, d => d.GetMessage(CultureInfo.InvariantCulture).Contains("cx_wide.scale", StringComparison.Ordinal)
            && d.Location.GetLineSpan().StartLinePosition.Line + 1 == LineOf("long double scale;"));
        Assert.Empty(outcome.Compiler);
    }

    [Fact]
    public void AnOverrideNamingAnUnknownType_SkipsThatIoctlOnly_WithAWarningAtTheMacro()
    {
        var overrides = new IoctlOverrides
        {
            Ioctls = [new IoctlOverride { Name = "CX_SET_U64", Argument = IoctlArgKind.Pointer, Type = "struct no_such_thing" }],
        };
        AbiModel model = Extract(overrides);
        Assert.DoesNotContain(model.Ioctls, i => i.Name == "CX_SET_U64");
        Assert.Contains(model.Ioctls, i => i.Name == "CX_GET_MSG");
        ExtractionNote note = Assert.Single(model.Notes, n => n.Kind == ExtractionNoteKind.Skipped);
        Assert.Equal(($"constructs.h:{LineOf("#define CX_SET_U64")}", "#define CX_SET_U64"), (note.Location, note.Subject));

        GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "Notes", "CxIoctls");
        Diagnostic skipped = Assert.Single(outcome.Generator, d => d.Id == "ABI0101" && d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).StartsWith("#define ", StringComparison.Ordinal));
        Assert.Equal(LineOf("#define CX_SET_U64"), skipped.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Empty(outcome.Compiler);
    }

    [Fact]
    public void AMinimumSizeOverride_IsTheEndOfItsMember_AndLeavesTheArgumentAlone()
    {
        var overrides = new IoctlOverrides
        {
            Ioctls =
            [
                new IoctlOverride { Name = "CX_GET_MSG", MinSizeMember = "reserved" },
                new IoctlOverride { Name = "CX_GET_PAIR", MinSizeMember = "no_such_member" },
            ],
        };
        AbiModel model = Extract(overrides);
        IoctlDecl msg = Assert.Single(model.Ioctls, i => i.Name == "CX_GET_MSG");
        Assert.Equal((4, "reserved", IoctlSource.Encoding, "cx_msg"), (msg.MinSize, msg.MinSizeMember, msg.Source, msg.Struct));   // packed: event (1) + reserved[3]
        IoctlDecl pair = Assert.Single(model.Ioctls, i => i.Name == "CX_GET_PAIR");
        Assert.Null(pair.MinSize);
        ExtractionNote note = Assert.Single(model.Notes, n => n.Subject == "#define CX_GET_PAIR");
        Assert.Contains("no_such_member", note.Reason, StringComparison.Ordinal);

        GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "MinSizes", "CxIoctls");
        Assert.Empty(outcome.Compiler);
        string constants = Assert.Single(outcome.Sources, t => t.FilePath.EndsWith("Constants.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("public static partial class IoctlMinSizes", constants, StringComparison.Ordinal);
        Assert.Contains("public const uint CX_GET_MSG = 4;", constants, StringComparison.Ordinal);
        Assert.DoesNotContain("public const uint CX_GET_PAIR =", constants, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryIoctlShape_GetsTheArgumentItsEncodingNames()
    {
        Dictionary<string, IoctlDecl> ioctls = Extract(null).Ioctls.ToDictionary(i => i.Name);
        Assert.Equal((IoctlArgKind.None, IoctlDirection.None), (ioctls["CX_RESET"].Argument, ioctls["CX_RESET"].EncodedDirection));       // _IO through two macros
        Assert.Equal((IoctlArgKind.Struct, "cx_msg"), (ioctls["CX_GET_MSG"].Argument, ioctls["CX_GET_MSG"].Struct));                    // _IOWR through a macro
        Assert.Equal((IoctlArgKind.Pointer, TypeKind.UInt64), (ioctls["CX_SET_U64"].Argument, ioctls["CX_SET_U64"].ArgumentType!.Kind));
        Assert.Equal((IoctlArgKind.Struct, "cx_pair_t"), (ioctls["CX_GET_PAIR"].Argument, ioctls["CX_GET_PAIR"].Struct));              // a typedef of an untagged struct
        Assert.Equal([2], ioctls["CX_GET_RANGE"].ArgumentType!.ArrayLengths.AsSpan().ToArray());                                       // an array type
        Assert.Equal(TypeKind.Pointer, ioctls["CX_GET_PTR"].ArgumentType!.Kind);                                                      // the kernel writes a pointer
        Assert.Equal((TypeKind.Enum, "cx_mode_t"), (ioctls["CX_SET_MODE"].ArgumentType!.Kind, ioctls["CX_SET_MODE"].ArgumentType!.Name));
        Assert.Equal((IoctlArgKind.Pointer, 12, IoctlDirection.Out), (ioctls["CX_RAW"].Argument, ioctls["CX_RAW"].ArgumentType!.ArrayLengths[0], ioctls["CX_RAW"].Direction)); // _IOC: bytes
    }

    private static int LineOf(string text) =>
        Array.FindIndex(File.ReadAllLines(Path.Combine(RepoPaths.Root, "tests", "TestHeaders", "include", "constructs.h")), l => l.Contains(text, StringComparison.Ordinal)) + 1;
}
