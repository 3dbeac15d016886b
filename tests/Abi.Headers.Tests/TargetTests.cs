using Abi.Headers.Packages;
using Abi.Model;

namespace Abi.Headers.Tests;

public sealed class TargetTests(LinuxHeadersFixture linux)
{
    /// <summary>One model serves x86_64 and aarch64: every layout, value and ioctl number is the same on both.</summary>
    [Theory]
    [InlineData("7.2")]
    [InlineData("6.12")]
    public void Aarch64_HasTheSameAbiAsX86_64(string profile)
    {
        AbiModel arm = LinuxHeadersFixture.Extract(HeaderProfile.Find(profile), linux.Headers[profile], "aarch64-linux-gnu");
        AbiModel x86 = linux.Models[profile];
        Assert.Equal("aarch64-linux-gnu", arm.Target.Triple);
        Assert.Equal(8, arm.Target.PointerSize);
        Assert.Equal(x86.Records, arm.Records);
        Assert.Equal(x86.Enums, arm.Enums);
        Assert.Equal(x86.Macros, arm.Macros);
        Assert.Equal(x86.Ioctls, arm.Ioctls);
    }

    [Fact]
    public void I386_DiffersWhereU64IsNotAligned()
    {
        // The guard that the comparison above can fail: on i386 a plain __u64 aligns to 4.
        AbiModel i386 = LinuxHeadersFixture.Extract(HeaderProfile.Linux72, linux.Headers["7.2"], "i386-linux-gnu");
        Assert.Equal(4, i386.Target.PointerSize);
        Assert.Equal(28, i386.Records.Single(r => r.Name == "vfio_iommu_type1_info_cap_migration").Size);
        Assert.Equal(32, linux.Linux72.Records.Single(r => r.Name == "vfio_iommu_type1_info_cap_migration").Size);
    }
}
