using Abi.Engine.Vfio;
using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Devices in a context (device.c: iommufd_device_bind, iommufd_device_attach): bind, attach to an IOAS (automatic HWPT) or a paging HWPT,
/// replace, detach, unbind. VFIO calls these with the device's lock held; each takes the context
/// lock, checks everything it can before it changes anything, and so fails without side effects.
/// </summary>
internal sealed partial class IommufdFile
{
    private int _bindings;
    private bool _released;

    /// <summary>Binds a device (VFIO_DEVICE_BIND_IOMMUFD) and returns its object.</summary>
    internal DeviceObject Bind(EmulatedDevice? device, IommuUnit iommu)
    {
        using (EnterExclusive())
        {
            var value = new DeviceObject(device, iommu);
            Objects.Add(value);
            _bindings++;
            return value;
        }
    }

    /// <summary>Detaches and destroys the device object (close of the device fd).</summary>
    internal void Unbind(DeviceObject device)
    {
        using (EnterExclusive())
        {
            DetachAllLocked(device);
            TombstoneVdevice(device);
            Objects.Remove(device.Id);
            _bindings--;
            if (_released && _bindings == 0)
            {
                DestroyAll();
            }
        }
    }

    /// <summary>
    /// Attaches (or replaces) to <paramref name="ptId"/>, an IOAS or a paging HWPT; writes back the HWPT used.
    /// With <paramref name="replaceOnly"/> (iommufd_device_replace, not _attach) an unattached device is refused.
    /// </summary>
    internal int Attach(DeviceObject device, ref uint ptId, bool fresh = false, bool replaceOnly = false)
    {
        using (EnterExclusive())
        {
            HwptObject? target;
            bool createAuto = false, throughIoas = false;
            IoasObject ioas;
            switch (Objects.Get(ptId))
            {
                case null:
                    return Fail(Errno.ENOENT, $"no object {ptId}");
                case IoasObject i:
                    ioas = i;
                    throughIoas = true;
                    target = device.Hwpt is HwptPagingObject { Automatic: true } current && current.Ioas == i ? current : i.Iopt.AutomaticDomain();
                    createAuto = target is null;
                    break;
                case HwptObject h:
                    target = h;
                    ioas = h.Ioas;
                    break;
                case IommufdObject other:
                    return Fail(Errno.EINVAL, $"object {ptId} is a {other.Kind}; a device attaches to an IOAS or a HWPT");
            }

            // iommufd_device_do_replace finds no attachment to replace (EINVAL) after the object's lookup
            // and, for an IOAS, after a new automatic domain's allocation: the IOAS's own automatic
            // domains pass as incompatible (EINVAL, iommufd_device_auto_get_domain), and the new one is
            // filled from the IOAS before the replace (iommufd_hwpt_paging_alloc, not immediate).
            if (replaceOnly && device.Hwpt is null)
            {
                if (throughIoas && Kernel.Faults.ShouldFail("hwpt.alloc"))
                {
                    return Fail(Errno.ENOMEM, "injected failure: hwpt.alloc");
                }

                return throughIoas && ioas.Iopt.AddDomainRefusal(device.Iommu) is int refused
                    ? refused
                    : Fail(Errno.EINVAL, "the RID is not attached; a replace needs an attachment");
            }

            // A fresh attach (PASID 0 through a PASID attach: iommufd_device_attach, not _replace) of a
            // device whose RID is attached meets it in the attachment's device array (xa_insert in
            // iommufd_hw_pagetable_attach): EBUSY after the object's lookup and, for an IOAS without an
            // automatic domain, after that domain's allocation (iommufd_device_auto_get_domain).
            if (fresh && device.Hwpt is not null)
            {
                return createAuto && Kernel.Faults.ShouldFail("hwpt.alloc")
                    ? Fail(Errno.ENOMEM, "injected failure: hwpt.alloc")
                    : Fail(Errno.EBUSY, $"the RID is attached to HWPT {device.Hwpt.Id} already; PASID 0 through a PASID attach is a fresh attach");
            }

            if (target is not null && target == device.Hwpt)
            {
                ptId = target.Id;           // replacing with the same HWPT changes nothing
                return 0;
            }

            foreach (IommufdObject value in Objects.All())
            {
                if (value is DeviceObject sibling && sibling != device && sibling.Device is not null && sibling.Device.Group == device.Device?.Group && sibling.Hwpt is not null && sibling.Hwpt != target)
                {
                    return Fail(Errno.EINVAL, $"device {sibling.Id} of the same IOMMU group is attached to HWPT {sibling.Hwpt.Id}; a group shares one HWPT");
                }
            }

            if (target is HwptPagingObject { HasDirtyOps: true } && !device.Iommu.DirtyTracking)
            {
                return Fail(Errno.EINVAL, $"HWPT {target.Id} tracks dirty pages, which the device's IOMMU cannot do");
            }

            // An automatic domain is allocated first (iommufd_device_auto_get_domain, iommufd_hwpt_paging_alloc).
            // A first attach attaches it at once, reserving the device's MSI window before the IOAS's areas
            // fill the domain (iopt_table_add_domain); a replace fills it first and reserves afterwards
            // (iommufd_device_do_replace), so there an area that cannot be pinned answers before a window
            // that is mapped.
            if (createAuto && Kernel.Faults.ShouldFail("hwpt.alloc"))
            {
                return Fail(Errno.ENOMEM, "injected failure: hwpt.alloc");
            }

            bool replacing = device.Hwpt is not null;
            if (createAuto && replacing && ioas.Iopt.AddDomainRefusal(device.Iommu) is int fillFailed)
            {
                return fillFailed;
            }

            // The device's MSI window, and for a new domain its aperture, become reserved in the IOAS.
            bool movesIoas = device.Hwpt?.Ioas != ioas;
            if (movesIoas && device.Iommu.MsiWindow && !ioas.Iopt.CanReserve(EngineIommu.MsiStart, EngineIommu.MsiLast))
            {
                return Fail(Errno.EADDRINUSE, $"the device's MSI window [0x{EngineIommu.MsiStart:X}, 0x{EngineIommu.MsiLast:X}] is mapped or allowed in IOAS {ioas.Id}");
            }

            if (device.PasidCount > 0 && target is not { PasidCompat: true })
            {
                return Fail(Errno.EINVAL, $"the device has PASIDs attached; its RID needs a PASID-compatible HWPT (IOMMU_HWPT_ALLOC_PASID), which {(target is null ? "an automatic domain" : $"HWPT {target.Id}")} is not");
            }

            // A driver finds the device's virtual ID on the vIOMMU of a nested HWPT built on one.
            ViommuObject? viommu = (target as HwptNestedObject)?.Viommu;
            if (viommu is not null && device.Vdevice?.Viommu != viommu)
            {
                return Fail(Errno.ENOENT, $"device {device.Id} has no vDEVICE on vIOMMU {viommu.Id}, which nested HWPT {target!.Id} is built on (IOMMU_VDEVICE_ALLOC first)");
            }

            // The driver's attach: a domain with a fault handler needs page requests on the device.
            if (target?.Fault is not null && device.Iommu.FaultDomainRefusal() is int noPageRequests)
            {
                return noPageRequests;
            }

            if (createAuto && !replacing && ioas.Iopt.AddDomainRefusal(device.Iommu) is int domainFailed)
            {
                return domainFailed;
            }

            if (createAuto)
            {
                var automatic = new HwptPagingObject(ioas, automatic: true, flags: 0, fault: null, device.Iommu);
                Objects.Add(automatic);
                automatic.AddToIoas();
                target = automatic;
            }

            HwptObject? old = device.Hwpt;
            if (movesIoas)
            {
                old?.Ioas.Iopt.RemoveReserved(device);
                if (device.Iommu.MsiWindow)
                {
                    ioas.Iopt.AddReserved(new ReservedRange(EngineIommu.MsiStart, EngineIommu.MsiLast, device));
                }
            }

            target!.Users++;
            device.Hwpt = target;
            device.Iommu.Attached(device, viommu);
            device.Device?.Model.Dma.Attach(ioas.Iopt, target.Paging);
            if (old is not null)
            {
                old.Fault?.AutoRespond(device.Id, NoPasid);      // iommufd_hwpt_replace_device
                Release(old);
            }

            ptId = target.Id;
            return 0;
        }
    }

    /// <summary>Detaches (silent when not attached): DMA is blocked afterwards.</summary>
    internal void Detach(DeviceObject device)
    {
        using (EnterExclusive())
        {
            DetachLocked(device);
        }
    }

    /// <summary>The device goes away: its PASIDs and its RID are detached.</summary>
    private void DetachAllLocked(DeviceObject device)
    {
        foreach (uint pasid in device.AttachedPasids())
        {
            DetachPasidLocked(device, pasid);
        }

        DetachLocked(device);
    }

    private void DetachLocked(DeviceObject device)
    {
        if (device.Hwpt is not HwptObject old)
        {
            return;
        }

        device.Device?.Model.Dma.Detach();
        old.Ioas.Iopt.RemoveReserved(device);
        device.Hwpt = null;
        device.Iommu.Attached(device, null);
        old.Fault?.AutoRespond(device.Id, NoPasid);              // iommufd_hwpt_detach_device
        Release(old);
    }

    /// <summary>A device left <paramref name="hwpt"/>: an automatic HWPT dies with its last device.</summary>
    private void Release(HwptObject hwpt)
    {
        hwpt.Users--;
        if (hwpt is HwptPagingObject { Automatic: true, Users: 0 })
        {
            Objects.Remove(hwpt.Id);
            hwpt.Destroyed();
        }
    }
}
