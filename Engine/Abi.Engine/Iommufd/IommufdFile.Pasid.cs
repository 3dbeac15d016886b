using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Attaching a device's PASIDs (device.c: iommufd_device_attach with a pasid): each PASID takes a PASID-compatible HWPT
/// (IOMMU_HWPT_ALLOC_PASID), and while any PASID is attached the RID must be on one too, since
/// the IOMMU walks one table format for both. Attach refuses an attached PASID (EBUSY), replace
/// an unattached one (EINVAL); detach is silent. An IOAS is refused, after the automatic domain's
/// allocation: automatic domains are never PASID-compatible. PASID 0 (IOMMU_NO_PASID) is the RID itself.
/// </summary>
internal sealed partial class IommufdFile
{
    internal const uint NoPasid = 0;

    internal int AttachPasid(DeviceObject device, uint pasid, ref uint ptId, bool replace)
    {
        if (pasid == NoPasid)
        {
            return Attach(device, ref ptId, fresh: !replace, replaceOnly: replace);
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
                case IoasObject ioas:
                    return AutomaticDomainForPasid(device, pasid, ioas, replace);
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

            // iommu.c: iommu_attach_device_pasid checks the PASID against each device's max_pasids. A
            // device with none never sees the domain (the core skips it), so nothing below applies to it.
            uint maxPasids = device.Iommu.MaxPasids;
            if (maxPasids > 0)
            {
                if (pasid >= maxPasids)
                {
                    return Fail(Errno.EINVAL, $"PASID {pasid} is beyond the device's {maxPasids} PASIDs");
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

    /// <summary>
    /// A PASID attached to an IOAS (device.c: iommufd_device_auto_get_domain). Automatic domains are
    /// allocated without IOMMU_HWPT_ALLOC_PASID, so none ever takes a PASID: the IOAS's own are tried
    /// and pass as incompatible (EINVAL), except that an attach of a PASID attached already meets it in
    /// the device array first (EBUSY, iommufd_hw_pagetable_attach). Then a new one is allocated. An
    /// attach attaches it at once and meets the same answers; a replace fills it from the IOAS first
    /// (iopt_table_add_domain), so the IOAS's refusals answer before the replace's EINVAL. The new
    /// domain is destroyed again either way.
    /// </summary>
    private int AutomaticDomainForPasid(DeviceObject device, uint pasid, IoasObject ioas, bool replace)
    {
        bool attached = device.PasidHwpt(pasid) is not null;
        if (!replace && attached && ioas.Iopt.AutomaticDomain() is not null)
        {
            return Fail(Errno.EBUSY, $"PASID {pasid} is attached already; an attach meets it at the IOAS's automatic domain");
        }

        if (Kernel.Faults.ShouldFail("hwpt.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: hwpt.alloc");
        }

        if (!replace)
        {
            return attached
                ? Fail(Errno.EBUSY, $"PASID {pasid} is attached already")
                : Fail(Errno.EINVAL, $"IOAS {ioas.Id}'s automatic domains are not PASID-compatible (IOMMU_HWPT_ALLOC_PASID)");
        }

        if (ioas.Iopt.AddDomainRefusal(device.Iommu) is int refused)
        {
            return refused;
        }

        return attached
            ? Fail(Errno.EINVAL, $"IOAS {ioas.Id}'s automatic domains are not PASID-compatible (IOMMU_HWPT_ALLOC_PASID)")
            : Fail(Errno.EINVAL, $"PASID {pasid} is not attached; replace needs an attachment");
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
