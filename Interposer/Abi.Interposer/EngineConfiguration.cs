using Abi.Engine;
using Abi.Engine.Devices;
using Abi.Engine.Devices.Virtio;
using Abi.Engine.Selftest;

namespace Abi.Interposer;

/// <summary>
/// Builds the engine a preloaded program sees, from environment variables (documented in the README):
/// <list type="bullet">
/// <item><c>ABI_ENGINE_CONTAINER</c>: <c>iommufd</c> (default) or <c>type1</c>, which kernel serves <c>/dev/vfio/vfio</c>.</item>
/// <item><c>ABI_ENGINE_DEVICES</c>: comma-separated emulated PCI functions, in cdev order:
/// <c>edu</c>, <c>edu-qemu</c> (QEMU's edu exactly: no MSI-X, no reset), <c>e1000e</c>, <c>igb</c> (the 82576 the VFIO selftests' driver drives), <c>virtio-net-pair</c> (two ports on one wire).</item>
/// <item><c>ABI_ENGINE_IOMMUFD_TEST</c>: <c>1</c> enables IOMMU_TEST_CMD (the kernel's CONFIG_IOMMUFD_TEST).</item>
/// <item><c>ABI_ENGINE_VFIO_PCI_ENABLE_SRIOV</c>: <c>1</c> sets vfio-pci's enable_sriov (a PF's
/// sriov_numvfs then makes VFs).</item>
/// <item><c>ABI_ENGINE_NOIOMMU</c>: <c>1</c> is a machine without an IOMMU booted with the vfio module's
/// enable_unsafe_noiommu_mode: every device is in a <c>noiommu-G</c> group and has no cdev.</item>
/// <item><c>ABI_ENGINE_FAIL_NTH</c>: <c>1</c> serves a task's <c>fail-nth</c> file from the engine's failure points (and accepts writes to the kernel's failslab knobs).</item>
/// <item><c>ABI_ENGINE_VTD</c>: <c>qemu</c> puts QEMU's <c>intel-iommu</c> (its defaults: legacy mode, no dirty tracking) in front of the devices instead of the engine's VT-d unit.</item>
/// <item><c>ABI_ENGINE_TRACE</c>: <c>1</c> prints every failing engine call with its errno and reason to stderr.</item>
/// </list>
/// </summary>
internal static class EngineConfiguration
{
    public static bool Trace { get; private set; }

    public static EmulatedKernel Create()
    {
        string container = Environment.GetEnvironmentVariable("ABI_ENGINE_CONTAINER") ?? "iommufd";
        ContainerBackend backend = container switch
        {
            "iommufd" or "" => ContainerBackend.Iommufd,
            "type1" => ContainerBackend.Type1,
            _ => throw new ArgumentException($"ABI_ENGINE_CONTAINER={container}: expected iommufd or type1"),
        };

        var kernel = new EmulatedKernel(backend)
        {
            EnableUnsafeNoIommu = IsSet("ABI_ENGINE_NOIOMMU"),
            VfioPciEnableSriov = IsSet("ABI_ENGINE_VFIO_PCI_ENABLE_SRIOV"),
            VtdAsQemu = Environment.GetEnvironmentVariable("ABI_ENGINE_VTD") == "qemu",
            ServeFailNth = IsSet("ABI_ENGINE_FAIL_NTH"),

            // The shim's fault handler performs loads and stores in register BARs a C program mmaps.
            TrapBarMappings = true,
        };
        Trace = IsSet("ABI_ENGINE_TRACE");
        if (IsSet("ABI_ENGINE_IOMMUFD_TEST"))
        {
            IommufdSelftest.Enable(kernel);
        }

        bool noIommu = kernel.EnableUnsafeNoIommu;
        string devices = Environment.GetEnvironmentVariable("ABI_ENGINE_DEVICES") ?? "";
        foreach (string name in devices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (name)
            {
                case "edu":
                    kernel.AddDevice(new EduDevice(), noIommu);
                    break;
                case "edu-qemu":
                    kernel.AddDevice(new EduDevice(msix: false, functionReset: false), noIommu);
                    break;
                case "e1000e":
                    kernel.AddDevice(new E1000eDevice(), noIommu);
                    break;
                case "igb":
                    kernel.AddDevice(new IgbDevice(), noIommu);
                    break;
                case "virtio-net-pair":
                    var a = new VirtioNetDevice([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
                    var b = new VirtioNetDevice([0x52, 0x54, 0x00, 0x12, 0x34, 0x57]);
                    EthernetWire.Connect(a, b);
                    kernel.AddDevice(a, noIommu);
                    kernel.AddDevice(b, noIommu);
                    break;
                default:
                    throw new ArgumentException($"ABI_ENGINE_DEVICES: unknown device '{name}' (edu, edu-qemu, e1000e, igb, virtio-net-pair)");
            }
        }

        return kernel;
    }

    private static bool IsSet(string name) => Environment.GetEnvironmentVariable(name) is "1" or "true" or "yes";
}
