using Abi.Headers.Diff;
using Abi.Model;

namespace Abi.Headers.Tests;

public sealed class ModelDiffTests(LinuxHeadersFixture linux)
{
    [Fact]
    public void Diff612To72_MatchesTheKeptReport()
    {
        string report = ModelDiff.Format(linux.Linux612, linux.Linux72, ModelDiff.Compare(linux.Linux612, linux.Linux72));
        string expectedPath = Path.Combine(RepoPaths.Root, "tests", "Abi.Headers.Tests", "Expected", "diff-6.12-7.2.txt");
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(expectedPath, report);
        }

        Assert.Equal(File.ReadAllText(expectedPath), report);
    }

    [Fact]
    public void Diff612To72_ClassifiesTheKnownChanges()
    {
        IReadOnlyList<ModelChange> changes = ModelDiff.Compare(linux.Linux612, linux.Linux72);
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Grown, Symbol: "struct vfio_device_bind_iommufd" } && c.Detail.StartsWith("16 -> 24 bytes", StringComparison.Ordinal));
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Grown, Symbol: "struct vfio_device_attach_iommufd_pt" } && c.Detail.StartsWith("12 -> 16 bytes", StringComparison.Ordinal));
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Added, Symbol: "ioctl IOMMU_IOAS_MAP_FILE" });
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Added, Symbol: "struct iommu_ioas_map_file" });
        Assert.Contains(changes, c => c.Kind == ChangeKind.Compatible && c.Symbol == "struct iommu_hw_info" && c.Detail.Contains("out_data_type", StringComparison.Ordinal));
    }

    [Fact]
    public void ModelAgainstItself_HasNoChanges() =>
        Assert.Empty(ModelDiff.Compare(linux.Linux72, linux.Linux72));

    [Fact]
    public void MovedField_ShrunkStruct_ChangedNumber_AreBreaking()
    {
        AbiModel before = linux.Linux72;
        RecordDecl map = before.Records.Single(r => r.Name == "iommu_ioas_map");
        RecordDecl moved = map with { Fields = map.Fields.Select(f => f.Name == "iova" ? f with { Offset = 36 } : f).ToEquatableArray() };
        RecordDecl shrunk = before.Records.Single(r => r.Name == "iommu_destroy") is var d ? d with { Size = 4, Fields = d.Fields.Take(1).ToEquatableArray() } : null!;
        AbiModel after = before with
        {
            Records = before.Records.Select(r => r.Name == map.Name ? moved : r.Name == shrunk.Name ? shrunk : r).ToEquatableArray(),
            Ioctls = before.Ioctls.Select(i => i.Name == "IOMMU_DESTROY" ? i with { Request = 0x3B7F } : i).ToEquatableArray(),
        };

        IReadOnlyList<ModelChange> changes = ModelDiff.Compare(before, after);
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Breaking, Symbol: "struct iommu_ioas_map" } && c.Detail == "field iova moved 32 -> 36");
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Breaking, Symbol: "struct iommu_destroy" } && c.Detail == "shrunk 8 -> 4 bytes");
        Assert.Contains(changes, c => c is { Kind: ChangeKind.Breaking, Symbol: "ioctl IOMMU_DESTROY" });
        Assert.DoesNotContain(changes, c => c.Kind != ChangeKind.Breaking);
    }

    [Fact]
    public void GrowthWithoutASizeField_IsBreaking()
    {
        AbiModel before = linux.Linux72;
        RecordDecl range = before.Records.Single(r => r.Name == "iommu_iova_range");
        FieldDecl last = range.Fields[^1];
        RecordDecl grown = range with { Size = range.Size + 8, Fields = range.Fields.Append(last with { Name = "extra", Offset = range.Size }).ToEquatableArray() };
        AbiModel after = before with { Records = before.Records.Select(r => r.Name == range.Name ? grown : r).ToEquatableArray() };
        ModelChange change = Assert.Single(ModelDiff.Compare(before, after));
        Assert.Equal(ChangeKind.Breaking, change.Kind);
        Assert.Contains("without a size/argsz field", change.Detail, StringComparison.Ordinal);
    }
}
