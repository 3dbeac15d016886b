using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>
/// The generated ioctls on an iommufd, for tests that send what the typed API never would. A driver
/// borrows the fd instead (<c>using var lease = Fd.Borrow();</c>), so the number cannot be closed and
/// reused under it; a test owns its fds and needs no lease.
/// </summary>
internal static class IommuFdExtensions
{
    public static IommufdIoctls Raw(this IommuFd iommufd) => new(iommufd.Kernel, (int)iommufd.Fd.DangerousGetHandle());
}
