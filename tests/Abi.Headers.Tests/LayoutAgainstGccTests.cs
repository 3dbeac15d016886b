using System.Text.RegularExpressions;
using Abi.Model;

namespace Abi.Headers.Tests;

/// <summary>Every size, alignment, offset and macro value libclang gave must be what gcc computes over the same headers.</summary>
public sealed partial class LayoutAgainstGccTests(LinuxHeadersFixture linux)
{
    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void EveryRecordFieldAndMacro_MatchesGcc(string profile)
    {
        AbiModel model = linux.Models[profile];
        List<string> expected = GccProbe.Expected(model);
        List<string> actual = GccProbe.Run(model, linux.Headers[profile].IncludeDirectories("x86_64-linux-gnu"));

        List<string> missing = expected.Except(actual).ToList();
        List<string> extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"model vs gcc differ:\n  model says: {string.Join("\n  model says: ", missing.Take(20))}\n  gcc says:   {string.Join("\n  gcc says:   ", extra.Take(20))}");
        Assert.Equal(expected.Count, actual.Count);
    }

    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void EveryRecordDefinedInTheHeaders_IsInTheModelAndChecked(string profile)
    {
        // An independent scan of the header text, so that a record libclang skipped cannot go unchecked.
        AbiModel model = linux.Models[profile];
        var declared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string header in model.Headers)
        {
            string text = File.ReadAllText(Path.Combine(linux.Headers[profile].IncludeDirectory, header));
            foreach (Match m in RecordDefinition().Matches(text))
            {
                declared.Add(m.Groups[2].Value);
            }
        }

        var inModel = new SortedSet<string>(model.Records.Select(r => r.Name), StringComparer.Ordinal);
        Assert.Equal(declared, inModel);

        List<string> probed = GccProbe.Expected(model).Where(l => l.StartsWith("R ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToList();
        Assert.Equal(inModel, new SortedSet<string>(probed, StringComparer.Ordinal));
        Assert.All(model.Records, r => Assert.All(r.Fields, f => Assert.Null(f.BitWidth)));
    }

    [Fact]
    public void EveryObjectLikeMacroWithABody_IsEvaluated()
    {
        foreach (AbiModel model in linux.Models.Values)
        {
            Assert.Empty(model.Macros.Where(m => m.Kind == MacroKind.Other).Select(m => m.Name));
            Assert.True(model.Macros.Count(m => m.Kind == MacroKind.Integer) > 150);
        }
    }

    [Fact]
    public void KnownLayoutsAndNumbers_AreRight()
    {
        AbiModel model = linux.Linux72;
        RecordDecl map = model.Records.Single(r => r.Name == "iommu_ioas_map");
        Assert.Equal(40, map.Size);
        RecordDecl irqSet = model.Records.Single(r => r.Name == "vfio_irq_set");
        Assert.Equal(20, irqSet.Size);
        FieldDecl data = irqSet.Fields.Single(f => f.Name == "data");
        Assert.Equal(20, data.Offset);
        Assert.True(data.Type.IsFlexibleArray);
        Assert.Equal(TypeKind.UInt8, data.Type.Kind);
        Assert.Equal("15237", model.Macros.Single(m => m.Name == "IOMMU_IOAS_MAP").Value); // 0x3B85
        Assert.Equal("15222", model.Macros.Single(m => m.Name == "VFIO_DEVICE_BIND_IOMMUFD").Value); // 0x3B76
        Assert.Equal(0x3B85u, model.Ioctls.Single(i => i.Name == "IOMMU_IOAS_MAP").Request);

        MacroDecl notOwned = model.Macros.Single(m => m.Name == "VFIO_PCI_DEVID_NOT_OWNED");
        Assert.Equal(("-1", "int", true), (notOwned.Value, notOwned.CType, notOwned.IsSigned));
        Assert.Equal(MacroKind.FunctionLike, model.Macros.Single(m => m.Name == "VFIO_DEVICE_STATE_VALID").Kind);
        Assert.Equal("vfio-pci", model.Macros.Single(m => m.Name == "VFIO_DEVICE_API_PCI_STRING").Value);

        // __aligned_u64 is invisible in the field type; the model records the attribute.
        Assert.True(map.Fields.Single(f => f.Name == "user_va").IsAligned);
        Assert.False(map.Fields.Single(f => f.Name == "ioas_id").IsAligned);
    }

    [Fact]
    public void AnonymousUnionMembers_AreFlattenedWithOuterOffsets()
    {
        RecordDecl info = linux.Linux72.Records.Single(r => r.Name == "iommu_hw_info");
        FieldDecl input = info.Fields.Single(f => f.Name == "in_data_type");
        FieldDecl output = info.Fields.Single(f => f.Name == "out_data_type");
        Assert.Equal(24, input.Offset);
        Assert.Equal(input.Offset, output.Offset);
        Assert.Equal("union@24", input.Anonymous);
        Assert.Equal(input.Anonymous, output.Anonymous);
        Assert.NotNull(input.Doc);
    }

    [GeneratedRegex(@"(?m)^\s*(struct|union)\s+(\w+)\s*\{")]
    private static partial Regex RecordDefinition();
}
