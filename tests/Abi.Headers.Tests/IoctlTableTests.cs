using System.Text.RegularExpressions;
using Abi.Model;

namespace Abi.Headers.Tests;

public sealed partial class IoctlTableTests(LinuxHeadersFixture linux)
{
    [Theory]
    [InlineData("7.2", 55)]
    [InlineData("6.12", 49)]
    public void EveryIoctlMacroOfTheHeaders_IsInTheTable(string profile, int count)
    {
        AbiModel model = linux.Models[profile];
        var defined = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string header in model.Headers)
        {
            // Join continuation lines first: IOMMU_IOAS_CHANGE_PROCESS is split over two.
            string text = File.ReadAllText(Path.Combine(linux.Headers[profile].IncludeDirectory, header)).Replace("\\\n", " ", StringComparison.Ordinal);
            foreach (Match m in IoctlDefine().Matches(text))
            {
                defined.Add(m.Groups[1].Value);
            }
        }

        Assert.Equal(count, defined.Count);
        Assert.Equal(defined, new SortedSet<string>(model.Ioctls.Select(i => i.Name), StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void EveryIoctl_HasAKnownFdKindArgumentAndDirection(string profile)
    {
        AbiModel model = linux.Models[profile];
        var records = model.Records.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (IoctlDecl ioctl in model.Ioctls)
        {
            Assert.NotEqual(IoctlSource.Encoding, ioctl.Source);
            Assert.Equal(IoctlDirection.None, ioctl.EncodedDirection);
            Assert.Equal(0, ioctl.EncodedSize);
            Assert.Equal(0x3B, ioctl.Type);
            Assert.Equal(ioctl.Argument == IoctlArgKind.Struct, ioctl.Struct is not null);
            if (ioctl.Struct is not null)
            {
                Assert.Contains(ioctl.Struct, records);
            }

            Assert.Equal(model.Macros.Single(m => m.Name == ioctl.Name).Value, ioctl.Request.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.All(model.Ioctls.Where(i => i.Name.StartsWith("IOMMU_", StringComparison.Ordinal)), i => Assert.Equal(FdKind.Iommufd, i.FdKind));
        Assert.Equal(model.Ioctls.Count, model.Ioctls.Select(i => (i.Name, i.FdKind)).Distinct().Count());
    }

    [Theory]
    [InlineData("IOMMU_IOAS_MAP", 40)]                 // main.c: IOCTL_OP(.., struct iommu_ioas_map, iova)
    [InlineData("IOMMU_DESTROY", 8)]
    [InlineData("IOMMU_HW_QUEUE_ALLOC", 40)]
    [InlineData("VFIO_IOMMU_MAP_DMA", 32)]             // vfio_iommu_type1.c: offsetofend(.., size)
    [InlineData("VFIO_DEVICE_GET_REGION_INFO", 32)]
    [InlineData("VFIO_DEVICE_SET_IRQS", 20)]
    public void MinimumSizes_AreTheEndOfTheMemberTheKernelNames(string ioctl, int expected)
    {
        IoctlDecl decl = Assert.Single(linux.Linux72.Ioctls, i => i.Name == ioctl);
        Assert.Equal(expected, decl.MinSize);
        RecordDecl record = Assert.Single(linux.Linux72.Records, r => r.Name == decl.Struct);
        FieldDecl member = Assert.Single(record.Fields, f => f.Name == decl.MinSizeMember);
        Assert.Equal(expected, member.Offset + member.Size);
    }

    [Fact]
    public void EveryIommufdIoctl_HasAMinimumSize()
    {
        List<IoctlDecl> iommufd = [.. linux.Linux72.Ioctls.Where(i => i.Name.StartsWith("IOMMU_", StringComparison.Ordinal))];
        Assert.Equal(21, iommufd.Count);
        Assert.All(iommufd, i => Assert.True(i.MinSize > 0 && i.MinSize <= linux.Linux72.Records.Single(r => r.Name == i.Struct).Size, $"{i.Name}: {i.MinSize}"));
    }

    [Fact]
    public void CollidingVfioNumbers_AreTellApartByFdKind()
    {
        // 0x3B70 is three different ioctls on three kinds of fd (or on sPAPR containers).
        var at3B70 = linux.Linux72.Ioctls.Where(i => i.Request == 0x3B70).ToList();
        Assert.Equal(3, at3B70.Count);
        Assert.Contains(at3B70, i => i.Name == "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO" && i.FdKind == FdKind.Device);
        Assert.Contains(at3B70, i => i.Name == "VFIO_IOMMU_GET_INFO" && i.FdKind == FdKind.Container && i.Struct == "vfio_iommu_type1_info");
    }

    [Fact]
    public void Arguments_FollowTheKernelNotTheComment()
    {
        Dictionary<string, IoctlDecl> table = linux.Linux72.Ioctls.ToDictionary(i => i.Name);
        Assert.Equal(IoctlArgKind.Value, table["VFIO_CHECK_EXTENSION"].Argument);
        Assert.Equal(IoctlArgKind.IntPointer, table["VFIO_GROUP_SET_CONTAINER"].Argument);
        Assert.Equal(IoctlArgKind.String, table["VFIO_GROUP_GET_DEVICE_FD"].Argument);
        Assert.Equal("vfio_iommu_type1_dma_map", table["VFIO_IOMMU_MAP_DMA"].Struct);
        Assert.Equal(IoctlSource.Override, table["VFIO_IOMMU_MAP_DMA"].Source);
        Assert.Equal(("vfio_irq_set", IoctlDirection.In, IoctlSource.KernelDoc), (table["VFIO_DEVICE_SET_IRQS"].Struct, table["VFIO_DEVICE_SET_IRQS"].Direction, table["VFIO_DEVICE_SET_IRQS"].Source));
        Assert.Equal("iommu_ioas_change_process", table["IOMMU_IOAS_CHANGE_PROCESS"].Struct);
        Assert.Equal(IoctlArgKind.None, table["VFIO_DEVICE_RESET"].Argument);
        Assert.NotNull(table["VFIO_DEVICE_BIND_IOMMUFD"].Doc);
    }

    [GeneratedRegex(@"(?m)^#define\s+([A-Z0-9_]+)\s+_IO[WR]*\(")]
    private static partial Regex IoctlDefine();
}
