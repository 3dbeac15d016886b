using System.Globalization;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Pci;
using Abi.Runtime.Vfio;
using Abi.Samples.Edu;
using PciConstants = Abi.Linux.Pci.Constants;

namespace Abi.DeviceFlows;

/// <summary>
/// One IOMMU mode's pass over QEMU's edu through the runtime's device API, step by step as the
/// kernel's selftests go: open by address (vfio_pci_device_test's setup), config space against
/// sysfs, BAR0 mapped and live, an MSI through an eventfd, DMA mapped and used by the device's own
/// engine, unmapped (vfio_dma_mapping_test), and the device closed so that it opens again. A step
/// after a failed one is reported as not run, so every mode prints the same lines. In no-IOMMU mode
/// nothing maps and the device would DMA to physical addresses, so the two DMA steps are left out.
/// </summary>
internal sealed class EduFlows(PciAddress address, IKernel kernel)
{
    /// <summary>The step names, in order: one TAP line each per mode.</summary>
    public static readonly string[] Steps = ["open", "config_space", "bar0_liveness", "msi_eventfd", "dma_copy", "dma_unmap", "reopen"];

    /// <summary>How many TAP lines <see cref="Run"/> prints for <paramref name="mode"/>.</summary>
    public static int StepCount(VfioIommuMode mode) => Steps.Length - (mode == VfioIommuMode.NoIommu ? 2 : 0);

    // edu's DMA engine takes 28-bit addresses (QEMU's dma_mask), so the IOVA is chosen, not allocated.
    private const ulong Iova = 0x10_0000;
    private const int Page = 4096;

    public void Run(VfioIommuMode mode, Tap tap)
    {
        string prefix = "abi_device_flows." + ModeName(mode) + ".";
        bool broken = false;
        int next = 0;
        VfioPciDevice? device = null;
        EduDriver? driver = null;
        DmaBuffer? memory = null;

        void Step(Func<string?> body)
        {
            string name = Steps[next++];
            if (mode == VfioIommuMode.NoIommu && name.StartsWith("dma_", StringComparison.Ordinal))
            {
                return;
            }

            string? failure = broken ? "not run: an earlier step failed" : Attempt(body);
            broken |= failure is not null;
            tap.Result(prefix + name, failure);
        }

        try
        {
            Step(() =>
            {
                device = VfioPciDevice.Open(address, mode, kernel);
                return null;
            });
            Step(() =>
            {
                uint ids = device!.Device.ReadConfig32(PciConstants.PCI_VENDOR_ID);
                uint sysfs = ((uint)device.Function.DeviceId << 16) | device.Function.VendorId;
                return ids == sysfs ? null : Say($"config space has ids {ids:x8}, sysfs {sysfs:x8}");
            });
            Step(() =>
            {
                driver = new EduDriver(device!.Device);
                uint answer = driver.CheckLiveness(0x1234_5678);
                return answer == ~0x1234_5678u ? null : Say($"liveness answered {answer:x8} to 12345678");
            });
            Step(() =>
            {
                driver!.RaiseInterrupt(0x4);
                uint status = driver.WaitForInterrupt(2000);
                return status == 0x4 ? null : Say($"interrupt status {status:x} after raising 4 (0: no eventfd signal)");
            });
            Step(() =>
            {
                memory = DmaBuffer.Allocate(kernel, 3 * Page, preferHugePages: false);
                Map(device!.Dma!, memory);
                Span<byte> source = memory.Span[..Page];
                for (int i = 0; i < source.Length; i++)
                {
                    source[i] = (byte)((i * 7) + (int)mode);
                }

                driver!.Copy(Iova, Iova + (2 * Page), Page);
                uint status = driver.WaitForInterrupt(2000);
                if (!memory.Span.Slice(2 * Page, Page).SequenceEqual(source))
                {
                    return "the device's copy through the IOMMU differs from the source";
                }

                return status == 0x100 ? null : Say($"DMA-done interrupt status {status:x}, expected 100");
            });
            Step(() =>
            {
                ulong unmapped = Unmap(device!.Dma!);
                return unmapped == 3 * Page ? null : Say($"unmapped {unmapped} bytes of {3 * Page}");
            });
            driver?.Dispose();
            driver = null;
            device?.Dispose();
            device = null;
            Step(() =>
            {
                using VfioPciDevice again = VfioPciDevice.Open(address, mode, kernel);
                return null;
            });
        }
        finally
        {
            driver?.Dispose();
            device?.Dispose();
            memory?.Dispose();
        }
    }

    private static void Map(IDmaMapper dma, DmaBuffer memory)
    {
        switch (dma)
        {
            case VfioContainer container:
                container.MapDma(memory, Iova);
                break;
            case Ioas ioas:
                ioas.Map(memory, Iova);
                break;
            default:
                throw new InvalidOperationException($"no fixed-IOVA map for {dma.GetType().Name}");
        }
    }

    private static ulong Unmap(IDmaMapper dma) => dma switch
    {
        VfioContainer container => container.UnmapDma(Iova, 3 * Page),
        Ioas ioas => ioas.Unmap(Iova, 3 * Page),
        _ => throw new InvalidOperationException($"no unmap for {dma.GetType().Name}"),
    };

    // The selftests' variant names.
    private static string ModeName(VfioIommuMode mode) => mode switch
    {
        VfioIommuMode.Type1 => "vfio_type1_iommu",
        VfioIommuMode.Type1v2 => "vfio_type1v2_iommu",
        VfioIommuMode.IommufdCompatType1 => "iommufd_compat_type1",
        VfioIommuMode.IommufdCompatType1v2 => "iommufd_compat_type1v2",
        VfioIommuMode.Iommufd => "iommufd",
        VfioIommuMode.NoIommu => "noiommu",
        _ => mode.ToString(),
    };

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    // A step's failure is its message: an exception from the runtime names the ioctl and the errno.
    private static string? Attempt(Func<string?> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }
}
