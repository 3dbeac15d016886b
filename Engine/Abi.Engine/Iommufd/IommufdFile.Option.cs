using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

internal sealed unsafe partial class IommufdFile
{
    /// <summary>
    /// IOMMU_OPTION in main.c: iommufd_option's order: __reserved, the option id, then the option's own
    /// checks (the IOAS lookup before the op for HUGE_PAGES); on success only val64 goes back.
    /// </summary>
    internal static int Option(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_option cmd = ref *(iommu_option*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        int rc = (iommufd_option)cmd.option_id switch
        {
            iommufd_option.IOMMU_OPTION_RLIMIT_MODE => f.RlimitModeOption(ref cmd),
            iommufd_option.IOMMU_OPTION_HUGE_PAGES => f.HugePagesOption(ref cmd),
            _ => Fail(Errno.EOPNOTSUPP, $"unknown option {cmd.option_id}"),
        };
        if (rc != 0)
        {
            return rc;
        }

        return UserAccess.TryWrite(call.User + (ulong)sizeof(ulong) * 2, cmd.val64) ? 0 : Fail(Errno.EFAULT, "val64 cannot be written back");
    }

    /// <summary>ioas.c: iommufd_option_rlimit_mode.</summary>
    private int RlimitModeOption(ref iommu_option cmd)
    {
        if (cmd.object_id != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "IOMMU_OPTION_RLIMIT_MODE is context-wide: object_id must be 0");
        }

        if (cmd.op == (ushort)iommufd_option_ops.IOMMU_OPTION_OP_GET)
        {
            cmd.val64 = AccountMm ? 1UL : 0UL;
            return 0;
        }

        if (cmd.op != (ushort)iommufd_option_ops.IOMMU_OPTION_OP_SET)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown op {cmd.op}");
        }

        if (!ProcessCapabilities.Has(ProcessCapabilities.CAP_SYS_RESOURCE))
        {
            return Fail(Errno.EPERM, "setting the accounting mode needs CAP_SYS_RESOURCE");
        }

        if (!Objects.IsEmpty)
        {
            return Fail(Errno.EBUSY, "the accounting mode can only change while the context holds no object");
        }

        if (cmd.val64 > 1)
        {
            return Fail(Errno.EINVAL, $"val64 {cmd.val64} is neither 0 (user) nor 1 (mm)");
        }

        AccountMm = cmd.val64 == 1;
        return 0;
    }

    /// <summary>ioas.c: iommufd_ioas_option, then iommufd_ioas_option_huge_pages and iopt_disable_large_pages.</summary>
    private int HugePagesOption(ref iommu_option cmd)
    {
        if (Objects.Get<IoasObject>(cmd.object_id, ObjectKind.Ioas) is not IoasObject ioas)
        {
            return Fail(Errno.ENOENT, $"{cmd.object_id} is not an IOAS");
        }

        if (cmd.op == (ushort)iommufd_option_ops.IOMMU_OPTION_OP_GET)
        {
            cmd.val64 = ioas.Iopt.HugePages ? 1UL : 0UL;
            return 0;
        }

        if (cmd.op != (ushort)iommufd_option_ops.IOMMU_OPTION_OP_SET)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown op {cmd.op}");
        }

        if (cmd.val64 == 1)
        {
            ioas.Iopt.HugePages = true;
            ioas.Iopt.RecomputeAlignment();
            return 0;
        }

        if (cmd.val64 != 0)
        {
            return Fail(Errno.EINVAL, $"val64 {cmd.val64} is neither 0 nor 1");
        }

        return DisableHugePages(ioas) ?? 0;
    }

    /// <summary>
    /// io_pagetable.c: iopt_disable_large_pages: refused (EINVAL) once domains hold mappings, and
    /// (EADDRINUSE) when a mapping is not aligned to the page alignment that remains.
    /// </summary>
    private static int? DisableHugePages(IoasObject ioas)
    {
        if (!ioas.Iopt.HugePages)
        {
            return null;
        }

        if (ioas.Iopt.Domains.Length > 0 && ioas.Iopt.AreaCount > 0)
        {
            return Fail(Errno.EINVAL, "the IOAS has domains and mappings; huge pages can only be turned off before either");
        }

        foreach (Area area in ioas.Iopt.Areas)
        {
            const ulong Page = Abi.Runtime.Kernel.LinuxConstants.PageSize;
            if (area.Iova % Page != 0 || area.Length % Page != 0 || (area.Pages.SourceAddress + area.PagesOffset) % Page != 0)
            {
                return Fail(Errno.EADDRINUSE, $"the mapping at 0x{area.Iova:X} is not page aligned");
            }
        }

        ioas.Iopt.HugePages = false;
        ioas.Iopt.RecomputeAlignment();
        return null;
    }

    internal static int VfioIoas(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_vfio_ioas cmd = ref *(iommu_vfio_ioas*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        switch ((iommufd_vfio_ioas_op)cmd.op)
        {
            case iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_GET:
                if (f.CompatIoas is null)
                {
                    return Fail(Errno.ENODEV, "no compat IOAS is set");
                }

                cmd.ioas_id = f.CompatIoas.Id;
                call.Respond = true;
                return 0;
            case iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET:
                if (f.Objects.Get<IoasObject>(cmd.ioas_id, ObjectKind.Ioas) is not IoasObject ioas)
                {
                    return Fail(Errno.ENOENT, $"{cmd.ioas_id} is not an IOAS");
                }

                f.CompatIoas = ioas;
                return 0;
            case iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_CLEAR:
                f.CompatIoas = null;
                return 0;
            default:
                return Fail(Errno.EOPNOTSUPP, $"unknown op {cmd.op}");
        }
    }
}
