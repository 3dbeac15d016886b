using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>Turns an ioctl's errno into the one exception, with the backend's reason when it has one.</summary>
internal static class IoctlCheck
{
    public static void Ok(Errno errno, IKernel kernel, string ioctl, string fdKind)
    {
        if (errno != Errno.None)
        {
            throw new IoctlException(ioctl, fdKind, errno, kernel.LastErrorReason);
        }
    }
}
