using Abi.Engine.Devices;
using Abi.Engine.Iommufd;
using Abi.Engine.Vfio;
using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>An engine with one registered edu device, and helpers to reach it through VFIO.</summary>
public abstract class DeviceTest : EngineTest
{
    protected DeviceTest()
    {
        Edu = new EduDevice();
        Node = Kernel.AddDevice(Edu);
    }

    protected EduDevice Edu { get; }

    protected EmulatedDeviceInfo Node { get; }

    internal IommufdFile Context => (IommufdFile)Kernel.FileOf((int)Iommufd.Fd.DangerousGetHandle())!;

    protected static int FdOf(VfioDevice device) => (int)device.Fd.DangerousGetHandle();

    protected VfioDeviceIoctls RawDevice(VfioDevice device) => new(Kernel, FdOf(device));

    /// <summary>Opens the cdev and binds it to the test's iommufd.</summary>
    protected VfioDevice OpenBound(out uint deviceId)
    {
        VfioDevice device = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        deviceId = device.BindIommufd(Iommufd);
        return device;
    }

    /// <summary>Issues a raw VFIO ioctl on <paramref name="fd"/> with <paramref name="argument"/> as the argument bytes.</summary>
    protected unsafe int Ioctl(int fd, uint request, Span<byte> argument)
    {
        fixed (byte* p = argument)
        {
            return Kernel.Ioctl(fd, request, (nint)p);
        }
    }
}
