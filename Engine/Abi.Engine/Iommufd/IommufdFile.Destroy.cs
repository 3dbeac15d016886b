using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

internal sealed unsafe partial class IommufdFile
{
    internal static int Destroy(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_destroy cmd = ref *(iommu_destroy*)arg;
        if (f.Objects.Get(cmd.id) is not IommufdObject value)
        {
            return Fail(Errno.ENOENT, $"no object {cmd.id}");
        }

        if (value.Kind is ObjectKind.Device or ObjectKind.Access)
        {
            return Fail(Errno.EBUSY, $"object {cmd.id} is a {value.Kind}; VFIO holds it until the device fd is closed");
        }

        if (value is ViommuObject { Pages: MmapRegion pages } && pages.IsMapped())
        {
            return Fail(Errno.EBUSY, $"object {cmd.id} ({value.Kind}) has its pages mapped at offset 0x{pages.Offset:X}; munmap them first");
        }

        if (value.Users > 0)
        {
            return Fail(Errno.EBUSY, $"object {cmd.id} ({value.Kind}) is still used by {value.Users} other object(s)");
        }

        if (value is IoasObject ioas)
        {
            _ = ioas.Iopt.Unmap(0, ulong.MaxValue, out _);
            if (f.CompatIoas == ioas)
            {
                f.CompatIoas = null;
            }
        }

        f.Objects.Remove(cmd.id);
        value.Destroyed();
        return 0;
    }
}
