using Abi.Interop;
using Abi.Linux;
using static Abi.Runtime.Engine.EngineDiagnostics;

namespace Abi.Runtime.Engine.Iommufd;

/// <remarks>
/// The engine's VT-d unit has no vIOMMU, vDEVICE, vEVENTQ or HW queue support, like a real IOMMU
/// whose driver implements none of them: after the kernel's argument checks, the answer is
/// EOPNOTSUPP (or ENOENT where the kernel looks an id up first). The selftest's mock IOMMU has a
/// vIOMMU (type 0xdeadbeef, no data) that nested HWPTs can be built on; the rest is not modelled.
/// </remarks>
internal sealed unsafe partial class IommufdFile
{
    internal static int ViommuAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_viommu_alloc cmd = ref *(iommu_viommu_alloc*)arg;
        if (cmd.flags != 0 || cmd.type == (uint)iommu_viommu_type.IOMMU_VIOMMU_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags must be 0 and type not DEFAULT");
        }

        if (f.Objects.Get(cmd.dev_id) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        if (!device.Iommu.IsMock || cmd.type != MockViommuType)
        {
            return Fail(Errno.EOPNOTSUPP, device.Iommu.IsMock ? $"vIOMMU type 0x{cmd.type:X}: the mock IOMMU has only type 0xdeadbeef" : "the engine's IOMMU has no vIOMMU support");
        }

        if (f.Objects.Get<HwptPagingObject>(cmd.hwpt_id, ObjectKind.HwptPaging) is not HwptPagingObject parent)
        {
            return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
        }

        if (!parent.NestParent)
        {
            return Fail(Errno.EINVAL, $"HWPT {parent.Id} is not a nesting parent (IOMMU_HWPT_ALLOC_NEST_PARENT)");
        }

        // With data, the mock loops it back and offers two pages to mmap from the iommufd: not modelled.
        if (cmd.data_len != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "the engine does not model the mock vIOMMU's data and its mmap-able pages");
        }

        cmd.out_viommu_id = f.Objects.Add(new ViommuObject(parent));
        return 0;
    }

    private const uint MockViommuType = 0xdeadbeef;

    internal static int VdeviceAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_vdevice_alloc cmd = ref *(iommu_vdevice_alloc*)arg;
        return Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
    }

    internal static int VeventqAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_veventq_alloc cmd = ref *(iommu_veventq_alloc*)arg;
        if (cmd.flags != 0 || cmd.__reserved != 0 || cmd.type == (uint)iommu_veventq_type.IOMMU_VEVENTQ_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags and __reserved must be 0 and type not DEFAULT");
        }

        return cmd.veventq_depth == 0
            ? Fail(Errno.EINVAL, "veventq_depth is zero")
            : Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
    }

    internal static int HwQueueAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hw_queue_alloc cmd = ref *(iommu_hw_queue_alloc*)arg;
        if (cmd.flags != 0 || cmd.type == (uint)iommu_hw_queue_type.IOMMU_HW_QUEUE_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags must be 0 and type not DEFAULT");
        }

        if (cmd.length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        return cmd.nesting_parent_iova + (cmd.length - 1) < cmd.nesting_parent_iova
            ? Fail(Errno.EOVERFLOW, "nesting_parent_iova + length wraps")
            : Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
    }
}
