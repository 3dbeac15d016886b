using Abi.Engine.Selftest.Uapi;

namespace Abi.Engine.Selftest;

/// <summary>
/// The kernel's <c>CONFIG_IOMMUFD_TEST</c> for an engine: with it, iommufd files answer
/// <c>IOMMU_TEST_CMD</c> (mock devices behind a mock IOMMU, reserved ranges, access fds, dirty
/// injection, page-reference checks), which the kernel's selftests drive. Off unless enabled, as
/// in the kernel; a driver never references this assembly.
/// </summary>
public static unsafe class IommufdSelftest
{
    /// <summary>Makes <paramref name="kernel"/>'s iommufd files answer IOMMU_TEST_CMD.</summary>
    public static void Enable(EmulatedKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        kernel.TestCommand = [new("IOMMU_TEST_CMD", Constants.IOMMU_TEST_CMD, (uint)sizeof(iommu_test_cmd), IoctlMinSizes.IOMMU_TEST_CMD, &IommufdTest.TestCommand)];
    }

    /// <summary>IOMMU_TEST_CMD is again an unknown number (ENOTTY), as on a kernel without CONFIG_IOMMUFD_TEST.</summary>
    public static void Disable(EmulatedKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        kernel.TestCommand = null;
    }
}
