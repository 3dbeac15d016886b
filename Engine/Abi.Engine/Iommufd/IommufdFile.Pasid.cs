using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Attaching a device's PASIDs (device.c: iommufd_device_attach with a pasid): each PASID takes a PASID-compatible HWPT
/// (IOMMU_HWPT_ALLOC_PASID), and while any PASID is attached the RID must be on one too, since
/// the IOMMU walks one table format for both. Attach refuses an attached PASID (EBUSY), replace
/// an unattached one (EINVAL); detach is silent. An IOAS is refused: the automatic domains are
/// never PASID-compatible. PASID 0 (IOMMU_NO_PASID) is the RID itself.
/// </summary>
internal sealed partial class IommufdFile
{
    internal const uint NoPasid = 0;

    internal int AttachPasid(DeviceObject device, uint pasid, ref uint ptId, bool replace)
    {
        if (pasid == NoPasid)
        {
            return replace && device.Hwpt is null ? Fail(Errno.EINVAL, "the RID is not attached; replace needs an attachment") : Attach(device, ref ptId, fresh: !replace);
        }

        using (EnterExclusive())
        {
            HwptObject hwpt;
            switch (Objects.Get(ptId))
            {
                case null:
                    return Fail(Errno.ENOENT, $"no object {ptId}");
                case HwptObject h:
                    hwpt = h;
                    break;
                case IoasObject:
                    return Fail(Errno.EINVAL, $"object {ptId} is an IOAS: its automatic domains are not PASID-compatible");
                case IommufdObject other:
                    return Fail(Errno.EINVAL, $"object {ptId} is a {other.Kind}; a PASID attaches to a HWPT");
            }

            HwptObject? old = device.PasidHwpt(pasid);
            bool attached = old is not null;
            if (!replace && attached)
            {
                return Fail(Errno.EBUSY, $"PASID {pasid} is attached to HWPT {old!.Id}; use replace");
            }

            if (replace && !attached)
            {
                return Fail(Errno.EINVAL, $"PASID {pasid} is not attached; replace needs an attachment");
            }

            if (old == hwpt)
            {
                return 0;
            }

            if (!hwpt.PasidCompat)
            {
                return Fail(Errno.EINVAL, $"HWPT {hwpt.Id} was not allocated with IOMMU_HWPT_ALLOC_PASID");
            }

            if (device.Hwpt is { PasidCompat: false } rid)
            {
                return Fail(Errno.EINVAL, $"the RID is attached to HWPT {rid.Id}, which is not PASID-compatible");
            }

            // A device without PASID support never sees the domain (the core skips it), so nothing below applies to it.
            if (device.Iommu.Pasid)
            {
                if (pasid >= 1u << device.Iommu.PasidWidth)
                {
                    return Fail(Errno.EINVAL, $"PASID {pasid} is beyond the device's {device.Iommu.PasidWidth} PASID bits");
                }

                if (device.Iommu.PasidChange(device, pasid) is int refused)
                {
                    return refused;
                }

                if (hwpt.Fault is not null && device.Iommu.FaultDomainRefusal() is int noPageRequests)
                {
                    return noPageRequests;
                }
            }

            hwpt.Users++;
            device.SetPasid(pasid, hwpt);
            if (old is not null)
            {
                old.Fault?.AutoRespond(device.Id, pasid);        // iommufd_hwpt_replace_device
                Release(old);
            }

            ptId = hwpt.Id;
            return 0;
        }
    }

    /// <summary>Detaches a PASID; silent when it is not attached.</summary>
    internal void DetachPasid(DeviceObject device, uint pasid)
    {
        if (pasid == NoPasid)
        {
            Detach(device);
            return;
        }

        using (EnterExclusive())
        {
            DetachPasidLocked(device, pasid);
        }
    }

    /// <summary>The HWPT <paramref name="pasid"/> of the device is attached to, or null.</summary>
    internal HwptObject? PasidHwpt(DeviceObject device, uint pasid)
    {
        using (EnterExclusive())
        {
            return pasid == NoPasid ? device.Hwpt : device.PasidHwpt(pasid);
        }
    }

    private void DetachPasidLocked(DeviceObject device, uint pasid)
    {
        if (device.RemovePasid(pasid, out HwptObject? old))
        {
            device.Iommu.PasidBlocked(device, pasid);
            old.Fault?.AutoRespond(device.Id, pasid);            // iommufd_hwpt_detach_device
            Release(old);
        }
    }
}
