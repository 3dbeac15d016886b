using Abi.Headers.Extraction;
using Abi.Headers.Packages;
using Abi.Model;

namespace Abi.Headers.Tests;

public sealed class ModelFileTests(LinuxHeadersFixture linux)
{
    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void ExtractingTwice_GivesIdenticalBytes(string profile)
    {
        HeaderProfile p = HeaderProfile.Find(profile);
        AbiModel again = LinuxHeadersFixture.Extract(p, linux.Headers[profile], "x86_64-linux-gnu");
        Assert.Equal(AbiModelSerializer.Serialize(linux.Models[profile]), AbiModelSerializer.Serialize(again));
        Assert.Equal(linux.Models[profile], again);
    }

    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void CheckedInModel_EqualsAFreshExtraction(string profile)
    {
        string path = Path.Combine(RepoPaths.Models, LinuxHeaderSet.ModelFileName(profile));
        byte[] fresh = AbiModelSerializer.Serialize(linux.Models[profile]);
        Assert.True(File.Exists(path), $"{path} is missing; run ./scripts/refresh-models.sh");
        Assert.True(fresh.AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{path} differs from a fresh extraction; run ./scripts/refresh-models.sh");
    }

    [Theory]
    [InlineData("linux-virtio.7.2.abi.json", "linux/virtio_config.h linux/virtio_ring.h linux/virtio_pci.h linux/virtio_net.h linux/virtio_ids.h")]
    [InlineData("linux-pci.7.2.abi.json", "linux/pci_regs.h")]
    [InlineData("linux-sys.7.2.abi.json", "asm-generic/fcntl.h linux/mman.h asm-generic/mman-common.h linux/eventfd.h asm-generic/poll.h asm-generic/ioctls.h linux/fs.h")]
    public void CheckedInSharedModel_EqualsAFreshExtraction(string file, string headers)
    {
        HeaderProfile p = HeaderProfile.Find("7.2");
        ExtractionOptions options = LinuxHeadersFixture.Options(p, linux.Headers["7.2"], "x86_64-linux-gnu") with { Headers = headers.Split(' ') };
        using var extractor = new HeaderExtractor(options);
        AbiModel fresh = extractor.Extract();
        Assert.Empty(fresh.Notes);
        string path = Path.Combine(RepoPaths.Models, file);
        Assert.True(AbiModelSerializer.Serialize(fresh).AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{path} differs from a fresh extraction; run ./scripts/refresh-models.sh");
    }

    [Fact]
    public void TheSharedModels_HoldWhatDriverAndDeviceUse()
    {
        AbiModel virtio = AbiModelSerializer.Deserialize(File.ReadAllBytes(Path.Combine(RepoPaths.Models, "linux-virtio.7.2.abi.json")));
        Assert.Contains(virtio.Records, r => r.Name == "vring_desc");
        Assert.Contains(virtio.Records, r => r is { Name: "virtio_net_hdr_v1", Size: 12 });
        Assert.Contains(virtio.Records, r => r is { Name: "virtio_pci_common_cfg", Size: 56 });
        AbiModel pci = AbiModelSerializer.Deserialize(File.ReadAllBytes(Path.Combine(RepoPaths.Models, "linux-pci.7.2.abi.json")));
        Assert.Contains(pci.Macros, m => m is { Name: "PCI_CAPABILITY_LIST", Value: "52" });
        Assert.Contains(pci.Macros, m => m is { Name: "PCI_CAP_ID_MSIX", Value: "17" });
    }

    /// <summary>
    /// The selftest's own header (drivers/iommu/iommufd/iommufd_test.h of the pinned linux-source-7.2,
    /// unpacked by scripts/selftest/sources.sh), which the engine's IOMMU_TEST_CMD mock is built from.
    /// </summary>
    [Fact]
    public void CheckedInSelftestModel_EqualsAFreshExtraction()
    {
        string sources = GccProbe.Exec(Path.Combine(RepoPaths.Root, "scripts", "selftest", "sources.sh"), []).Trim();
        HeaderProfile p = HeaderProfile.Find("7.2");
        ExtractionOptions options = LinuxHeadersFixture.Options(p, linux.Headers["7.2"], "x86_64-linux-gnu") with
        {
            Headers = ["iommufd_test.h"],
            IncludeDirectories = [Path.Combine(sources, "drivers", "iommu", "iommufd"), .. linux.Headers["7.2"].IncludeDirectories(LinuxHeaderSet.TripletOf("x86_64-linux-gnu"))],
        };
        using var extractor = new HeaderExtractor(options);
        AbiModel fresh = extractor.Extract();

        IoctlDecl test = Assert.Single(fresh.Ioctls);
        Assert.Equal(("IOMMU_TEST_CMD", "iommu_test_cmd", 68, "last"), (test.Name, test.Struct, test.MinSize, test.MinSizeMember));
        Assert.Contains(fresh.Records, r => r is { Name: "iommu_test_cmd", Size: 72 });
        string path = Path.Combine(RepoPaths.Models, "iommufd-test.7.2.abi.json");
        Assert.True(AbiModelSerializer.Serialize(fresh).AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{path} differs from a fresh extraction; run ./scripts/refresh-models.sh");
    }

    [Fact]
    public void Serialization_RoundTripsToAnEqualModel()
    {
        byte[] bytes = AbiModelSerializer.Serialize(linux.Linux72);
        AbiModel back = AbiModelSerializer.Deserialize(bytes);
        Assert.Equal(linux.Linux72, back);
        Assert.Equal(linux.Linux72.GetHashCode(), back.GetHashCode());
        Assert.NotEqual(linux.Linux72, back with { Records = back.Records.Skip(1).ToEquatableArray() });
    }

    [Fact]
    public void ModelText_IsDeterministic()
    {
        string text = System.Text.Encoding.UTF8.GetString(AbiModelSerializer.Serialize(linux.Linux72));
        Assert.DoesNotContain("\r", text, StringComparison.Ordinal);
        Assert.EndsWith("}\n", text, StringComparison.Ordinal);
        List<string> names = linux.Linux72.Records.Select(r => r.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void Deserialize_RefusesAnUnknownSchemaVersion()
    {
        byte[] bytes = AbiModelSerializer.Serialize(linux.Linux72 with { SchemaVersion = 99 });
        FormatException e = Assert.Throws<FormatException>(() => AbiModelSerializer.Deserialize(bytes));
        Assert.Contains("schema version 99", e.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => AbiModelSerializer.Deserialize("{\"records\": 3}"u8));
    }
}
