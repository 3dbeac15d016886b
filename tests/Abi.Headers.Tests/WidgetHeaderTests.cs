using Abi.Headers.Extraction;
using Abi.Headers.Packages;
using Abi.Model;

namespace Abi.Headers.Tests;

/// <summary>
/// A header written for these tests (tests/TestHeaders/include/widget.h) covers what the kernel
/// headers lack: bitfields, packing, a union with an anonymous struct, nested arrays and ioctl
/// numbers that encode size and direction.
/// </summary>
public sealed class WidgetHeaderTests(LinuxHeadersFixture linux)
{
    private static string IncludeDirectory => Path.Combine(RepoPaths.Root, "tests", "TestHeaders", "include");

    public static string CheckedInModel => Path.Combine(RepoPaths.Root, "tests", "TestHeaders", "widget.abi.json");

    private AbiModel Extract()
    {
        FetchedHeaders kernel = linux.Headers["7.2"];
        var options = new ExtractionOptions
        {
            Headers = ["widget.h"],
            IncludeDirectories = [IncludeDirectory, .. kernel.IncludeDirectories("x86_64-linux-gnu")],
            Profile = "7.2",
            Source = new HeaderSource { Package = HeaderProfile.PackageName, Version = kernel.Version, Suite = kernel.Suite, Sha256 = kernel.Sha256 },
        };
        using var extractor = new HeaderExtractor(options);
        return extractor.Extract();
    }

    [Fact]
    public void EveryRecordBitfieldAndMacro_MatchesGcc()
    {
        AbiModel model = Extract();
        List<string> expected = GccProbe.Expected(model);
        List<string> actual = GccProbe.Run(model, [IncludeDirectory, .. linux.Headers["7.2"].IncludeDirectories("x86_64-linux-gnu")]);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
        Assert.Equal(4, expected.Count(l => l.StartsWith("B ", StringComparison.Ordinal)));
    }

    [Fact]
    public void CheckedInWidgetModel_EqualsAFreshExtraction()
    {
        byte[] fresh = AbiModelSerializer.Serialize(Extract());
        Assert.True(fresh.AsSpan().SequenceEqual(File.ReadAllBytes(CheckedInModel)), $"{CheckedInModel} differs from a fresh extraction; run ./scripts/refresh-models.sh");
    }

    [Fact]
    public void Bitfields_PackedRecords_AnonymousStructs_AndNestedArrays_AreDescribed()
    {
        AbiModel model = Extract();
        RecordDecl info = model.Records.Single(r => r.Name == "widget_info");
        FieldDecl temperature = info.Fields.Single(f => f.Name == "temperature");
        Assert.Equal((200, 8, TypeKind.Int32), (temperature.BitOffset!.Value, temperature.BitWidth!.Value, temperature.Type.Kind));
        Assert.Equal((194, 5), (info.Fields.Single(f => f.Name == "revision").BitOffset!.Value, info.Fields.Single(f => f.Name == "revision").BitWidth!.Value));

        RecordDecl regs = model.Records.Single(r => r.Name == "widget_regs");
        Assert.True(regs.IsPacked);
        Assert.Equal((13, 1), (regs.Size, regs.Alignment));
        Assert.Equal([2, 3], regs.Fields.Single(f => f.Name == "grid").Type.ArrayLengths);

        RecordDecl value = model.Records.Single(r => r.Name == "widget_value");
        Assert.Equal(RecordKind.Union, value.Kind);
        FieldDecl hi = value.Fields.Single(f => f.Name == "hi");
        Assert.Equal((2, "struct@0"), (hi.Offset, hi.Anonymous));

        FieldDecl values = model.Records.Single(r => r.Name == "widget_batch").Fields.Single(f => f.Name == "values");
        Assert.True(values.Type.IsFlexibleArray);
        Assert.Equal((TypeKind.Record, "widget_value"), (values.Type.Kind, values.Type.Name));
    }

    [Fact]
    public void EncodedIoctls_TakeTheirArgumentAndDirectionFromTheNumber()
    {
        Dictionary<string, IoctlDecl> ioctls = Extract().Ioctls.ToDictionary(i => i.Name);
        IoctlDecl get = ioctls["WIDGET_GET_INFO"];
        Assert.Equal((IoctlDirection.Out, 40, IoctlArgKind.Struct, "widget_info", IoctlSource.Encoding), (get.EncodedDirection, get.EncodedSize, get.Argument, get.Struct, get.Source));
        Assert.Equal(0x80287701u, get.Request);
        Assert.Equal((IoctlDirection.In, 4, IoctlArgKind.Pointer), (ioctls["WIDGET_SET_MODE"].Direction, ioctls["WIDGET_SET_MODE"].EncodedSize, ioctls["WIDGET_SET_MODE"].Argument));
        Assert.Equal(TypeKind.UInt32, ioctls["WIDGET_SET_MODE"].ArgumentType!.Kind);       // _IOW(.., __u32), as clang resolves it
        Assert.Equal((IoctlDirection.InOut, "widget_batch"), (ioctls["WIDGET_SUBMIT"].Direction, ioctls["WIDGET_SUBMIT"].Struct));
        Assert.Equal((IoctlDirection.None, IoctlArgKind.None), (ioctls["WIDGET_RESET"].Direction, ioctls["WIDGET_RESET"].Argument));
        Assert.Equal(13, ioctls["WIDGET_POKE"].EncodedSize);
        Assert.All(ioctls.Values, i => Assert.Equal(FdKind.Other, i.FdKind));
    }
}
