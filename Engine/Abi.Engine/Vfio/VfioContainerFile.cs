using Abi.Engine.Process;
using Abi.Engine.Vfio.Type1;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// The native VFIO container <c>/dev/vfio/vfio</c> (drivers/vfio/container.c): groups join it, SET_IOMMU picks a
/// backend (type1 v1/v2, or no-IOMMU when enabled), and IOMMU ioctls then go to that backend.
/// The last group leaving drops the backend and every mapping with it.
/// </summary>
internal sealed class VfioContainerFile(EmulatedKernel kernel) : EngineFile
{
    private readonly List<VfioGroupFile> _groups = [];
    private readonly Lock _lock = new();

    public override string Name => "/dev/vfio/vfio";

    // A misc device's open gives FMODE_PREAD and FMODE_PWRITE (vfio_fops_open keeps them): pread and
    // pwrite are EINVAL for want of read and write methods, not ESPIPE.
    public override bool CanSeek => true;

    public override InodeAttributes Attributes => DevNodes.VfioContainer;

    public Type1Iommu? Type1 { get; private set; }

    public bool NoIommu { get; private set; }

    /// <summary>Whether a backend is set (GET_DEVICE_FD needs one).</summary>
    public bool HasBackend => Type1 is not null || NoIommu;

    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        lock (_lock)
        {
            switch (request)
            {
                case Constants.VFIO_GET_API_VERSION:
                    return Constants.VFIO_API_VERSION;
                case Constants.VFIO_CHECK_EXTENSION:
                    return CheckExtension((ulong)argument);
                case Constants.VFIO_SET_IOMMU:
                    return SetIommu((ulong)argument);
            }

            if (Type1 is not null)
            {
                return Type1.Ioctl(request, argument);
            }

            return NoIommu
                ? Fail(Errno.ENOTTY, "the no-IOMMU backend serves no IOMMU ioctls")
                : Fail(Errno.EINVAL, "no IOMMU backend is set (VFIO_SET_IOMMU first)");
        }
    }

    /// <summary>A group joins (VFIO_GROUP_SET_CONTAINER): with a backend set, its device is attached at once.</summary>
    public int AddGroup(VfioGroupFile group)
    {
        lock (_lock)
        {
            if (GroupsAreNoIommu is bool noIommu && noIommu != group.Device.NoIommu)
            {
                return Fail(Errno.EPERM, "no-IOMMU and IOMMU-backed groups cannot share a container");
            }

            // iommu_group_claim_dma_owner: a device still bound to an iommufd owns the group's DMA.
            if (!group.Device.NoIommu && group.Device.Owner is not null)
            {
                return Fail(Errno.EPERM, $"{group.Device.PciName}'s DMA is owned by an iommufd binding (a device fd still open)");
            }

            if (HasBackend && AttachError(group) is int failed)
            {
                return failed;
            }

            _groups.Add(group);
            if (HasBackend)
            {
                Attach(group);
            }

            return 0;
        }
    }

    /// <summary>A group leaves: its device's DMA is blocked; the last group takes the backend with it.</summary>
    public void RemoveGroup(VfioGroupFile group)
    {
        lock (_lock)
        {
            _groups.Remove(group);
            if (_groups.Count == 0)
            {
                Type1?.Release();
                Type1 = null;
                NoIommu = false;
            }
        }
    }

    private int CheckExtension(ulong extension)
    {
        if (Type1 is not null)
        {
            return Type1.CheckExtension(extension);
        }

        if (NoIommu)
        {
            return extension == Constants.VFIO_NOIOMMU_IOMMU ? 1 : 0;
        }

        // No backend yet: each registered backend answers without an instance, only those the groups
        // allow once there are groups (container.c: vfio_iommu_driver_allowed, a no-IOMMU container
        // takes only vfio-noiommu and any other only the others).
        return extension switch
        {
            (ulong)Constants.VFIO_TYPE1_IOMMU or (ulong)Constants.VFIO_TYPE1v2_IOMMU or (ulong)Constants.VFIO_UNMAP_ALL => GroupsAreNoIommu != true ? 1 : 0,
            (ulong)Constants.VFIO_NOIOMMU_IOMMU => GroupsAreNoIommu != false && kernel.EnableUnsafeNoIommu ? 1 : 0,
            _ => 0,
        };
    }

    private int SetIommu(ulong type)
    {
        if (_groups.Count == 0 || HasBackend)
        {
            return Fail(Errno.EINVAL, _groups.Count == 0 ? "no group is in the container" : "an IOMMU backend is set already");
        }

        // container.c: vfio_ioctl_set_iommu asks only the backends the groups allow; none that claims the
        // type is ENODEV.
        bool noIommuGroups = GroupsAreNoIommu == true;
        switch (type)
        {
            case (ulong)Constants.VFIO_TYPE1_IOMMU or (ulong)Constants.VFIO_TYPE1v2_IOMMU when !noIommuGroups:
                Type1 = new Type1Iommu(kernel, v2: type == Constants.VFIO_TYPE1v2_IOMMU);
                break;
            case (ulong)Constants.VFIO_UNMAP_ALL when !noIommuGroups:
                return Fail(Errno.EINVAL, "type1 claims extension 9 (UNMAP_ALL), but vfio_iommu_type1_open refuses it as an IOMMU type");
            case (ulong)Constants.VFIO_NOIOMMU_IOMMU when kernel.EnableUnsafeNoIommu && noIommuGroups:
                if (!ProcessCapabilities.Has(ProcessCapabilities.CAP_SYS_RAWIO))
                {
                    return Fail(Errno.EPERM, "no-IOMMU mode needs CAP_SYS_RAWIO");
                }

                NoIommu = true;
                break;
            default:
                return Fail(Errno.ENODEV, $"no IOMMU backend that the container's {(noIommuGroups ? "no-IOMMU" : "IOMMU")} groups allow serves type {type}");
        }

        foreach (VfioGroupFile group in _groups)
        {
            Attach(group);
        }

        return 0;
    }

    /// <summary>Whether the container's groups are no-IOMMU ones (container->noiommu: groups never mix), null without groups.</summary>
    private bool? GroupsAreNoIommu => _groups.Count == 0 ? null : _groups[0].Device.NoIommu;

    private int? AttachError(VfioGroupFile group) => Type1?.AttachGroupError(group.Name);

    private void Attach(VfioGroupFile group)
    {
        if (Type1 is not null)
        {
            group.Device.Model.Dma.Attach(Type1.Table, null);
        }
        else
        {
            group.Device.Model.Dma.AttachDirect(kernel.Memory);
        }
    }
}
