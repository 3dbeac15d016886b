using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// <c>mmap</c> of the iommufd: objects offer pages at offsets the context hands out (lowest free
/// page-aligned range from PAGE_SIZE up, so 0 never names one); a mapping must name one exactly,
/// at its offset and with its length, shared and not executable.
/// </summary>
internal sealed partial class IommufdFile
{
    private IEnumerable<MmapRegion> MmapRegions =>
        Objects.All().OfType<ViommuObject>().Select(v => v.Pages).OfType<MmapRegion>();

    /// <summary>The lowest free offset for <paramref name="length"/> bytes (a multiple of PAGE_SIZE).</summary>
    internal ulong AllocateMmapOffset(ulong length)
    {
        ulong candidate = LinuxConstants.PageSize;
        foreach (MmapRegion region in MmapRegions.OrderBy(r => r.Offset))
        {
            if (candidate + length <= region.Offset)
            {
                break;
            }

            candidate = Math.Max(candidate, region.Offset + region.Length);
        }

        return candidate;
    }

    /// <summary>Maps the pages at <paramref name="offset"/>; the length is the mapping's, rounded up to pages as mmap does.</summary>
    public nint Mmap(nint address, nuint length, int protection, int flags, long offset)
    {
        using (EnterExclusive())
        {
            // mmap(2)'s own checks come first.
            if (length == 0 || offset % LinuxConstants.PageSize != 0)
            {
                return Fail(Errno.EINVAL, "the length is zero or the offset is not page aligned");
            }

            ulong vmaLength = LinuxConstants.PageAlign((ulong)length);
            if ((flags & LinuxConstants.MAP_SHARED) == 0)
            {
                return Fail(Errno.EINVAL, "iommufd pages can only be mapped MAP_SHARED");
            }

            if ((protection & LinuxConstants.PROT_EXEC) != 0)
            {
                return Fail(Errno.EPERM, "iommufd pages cannot be mapped executable");
            }

            MmapRegion? region = MmapRegions.FirstOrDefault(r => (ulong)offset >= r.Offset && (ulong)offset - r.Offset < r.Length);
            if (region is null)
            {
                return Fail(Errno.ENXIO, $"no object offers pages at offset 0x{offset:X}");
            }

            if ((ulong)offset != region.Offset || vmaLength != region.Length)
            {
                return Fail(Errno.ENXIO, $"object {region.Owner.Id}'s pages are mapped whole: offset 0x{region.Offset:X}, length 0x{region.Length:X}");
            }

            return region.Map(address, protection, flags);
        }
    }
}
