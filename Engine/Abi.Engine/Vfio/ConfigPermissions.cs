using P = Abi.Linux.Pci.Constants;

namespace Abi.Engine.Vfio;

/// <summary>What a config access does to one capability's bytes (vfio_pci_config.c: struct perm_bits's read and write functions).</summary>
internal enum ConfigAccessKind
{
    /// <summary>vfio_default_config_read/write: virtual bits from and to the copy, writable others through to the function.</summary>
    Default,

    /// <summary>vfio_direct_config_read, no write: the function's bytes, with the id and next pointer from the copy.</summary>
    DirectReadOnly,

    /// <summary>vfio_direct_config_read and vfio_raw_config_write (vendor-specific capabilities).</summary>
    DirectRawWrite,

    /// <summary>vfio_raw_config_read/write: bytes no capability claims go straight to the function.</summary>
    Raw,
}

/// <summary>
/// vfio-pci's permission tables: for each byte of a capability, which bits are virtual (read from and
/// written to vfio's copy of config space, never the function's) and which the user may write.
/// Bytes outside the table's length are read-only and real, as alloc_perm_bits's zeroed tables are.
/// </summary>
internal sealed class ConfigPermissions
{
    private readonly byte[] _virt;
    private readonly byte[] _write;

    private ConfigPermissions(int length, ConfigAccessKind kind)
    {
        int rounded = (length + 3) & ~3;    // alloc_perm_bits rounds up to a dword
        _virt = new byte[rounded];
        _write = new byte[rounded];
        Kind = kind;
    }

    public ConfigAccessKind Kind { get; }

    /// <summary>The bits of [offset, offset + count) that are virtual, as a little-endian value.</summary>
    public uint Virtual(int offset, int count) => Bits(_virt, offset, count);

    /// <summary>The bits of [offset, offset + count) the user may write.</summary>
    public uint Writable(int offset, int count) => Bits(_write, offset, count);

    private static uint Bits(byte[] table, int offset, int count)
    {
        uint value = 0;
        for (int i = 0; i < count && offset + i < table.Length; i++)
        {
            value |= (uint)table[offset + i] << (8 * i);
        }

        return value;
    }

    private void Set(int offset, int count, uint virt, uint write)
    {
        for (int i = 0; i < count; i++)
        {
            _virt[offset + i] = (byte)(virt >> (8 * i));
            _write[offset + i] = (byte)(write >> (8 * i));
        }
    }

    /// <summary>Capabilities whose bytes are all read-only and real but for the id and next pointer (cap_perms' default).</summary>
    public static ConfigPermissions DirectReadOnly { get; } = new(0, ConfigAccessKind.DirectReadOnly);

    /// <summary>Vendor-specific capabilities: real reads, raw writes (cap_perms[PCI_CAP_ID_VNDR]).</summary>
    public static ConfigPermissions Vendor { get; } = new(0, ConfigAccessKind.DirectRawWrite);

    /// <summary>Bytes in no capability (unassigned_perms).</summary>
    public static ConfigPermissions Unassigned { get; } = new(0, ConfigAccessKind.Raw);

    /// <summary>init_pci_cap_basic_perm: the 64-byte header.</summary>
    public static ConfigPermissions Basic { get; } = BuildBasic();

    /// <summary>init_pci_cap_pm_perm: the power management capability.</summary>
    public static ConfigPermissions PowerManagement { get; } = BuildPowerManagement();

    /// <summary>init_pci_cap_exp_perm: the PCI Express capability.</summary>
    public static ConfigPermissions Express { get; } = BuildExpress();

    private const uint AllVirt = 0xFFFF_FFFF, AllWrite = 0xFFFF_FFFF, NoVirt = 0, NoWrite = 0;

    private static ConfigPermissions BuildBasic()
    {
        var p = new ConfigPermissions(P.PCI_STD_HEADER_SIZEOF, ConfigAccessKind.Default);
        p.Set(P.PCI_VENDOR_ID, 2, AllVirt, NoWrite);         // virtual for SR-IOV VFs, which read all ones
        p.Set(P.PCI_DEVICE_ID, 2, AllVirt, NoWrite);
        p.Set(P.PCI_COMMAND, 2, P.PCI_COMMAND_INTX_DISABLE, AllWrite);     // INTx disable is emulated
        p.Set(P.PCI_STATUS, 2, P.PCI_STATUS_CAP_LIST, NoWrite);            // the chain may hide capabilities
        p.Set(P.PCI_CACHE_LINE_SIZE, 1, NoVirt, AllWrite);
        p.Set(P.PCI_LATENCY_TIMER, 1, NoVirt, AllWrite);
        p.Set(P.PCI_BIST, 1, NoVirt, AllWrite);
        for (int bar = 0; bar < P.PCI_STD_NUM_BARS; bar++)
        {
            p.Set(P.PCI_BASE_ADDRESS_0 + (4 * bar), 4, AllVirt, AllWrite);   // the real BARs stay as the host placed them
        }

        p.Set(P.PCI_ROM_ADDRESS, 4, AllVirt, AllWrite);
        p.Set(P.PCI_CAPABILITY_LIST, 1, AllVirt, NoWrite);
        p.Set(P.PCI_INTERRUPT_LINE, 1, AllVirt, AllWrite);
        p.Set(P.PCI_INTERRUPT_PIN, 1, AllVirt, NoWrite);
        return p;
    }

    private static ConfigPermissions BuildPowerManagement()
    {
        var p = new ConfigPermissions(P.PCI_PM_SIZEOF, ConfigAccessKind.Default);
        p.Set(P.PCI_CAP_LIST_NEXT, 1, AllVirt, NoWrite);
        p.Set(P.PCI_PM_PMC, 2, P.PCI_PM_CAP_PME_MASK, NoWrite);
        const uint pme = P.PCI_PM_CTRL_PME_ENABLE | P.PCI_PM_CTRL_PME_STATUS;
        p.Set(P.PCI_PM_CTRL, 4, pme, ~(pme | P.PCI_PM_CTRL_STATE_MASK));
        return p;
    }

    private static ConfigPermissions BuildExpress()
    {
        var p = new ConfigPermissions(P.PCI_CAP_EXP_ENDPOINT_SIZEOF_V2, ConfigAccessKind.Default);
        p.Set(P.PCI_CAP_LIST_NEXT, 1, AllVirt, NoWrite);

        // Device control: every field but phantom functions; FLR, MPS and MRRS are virtual (FLR resets,
        // MPS would break the link's other end, MRRS is floored by the host).
        p.Set(P.PCI_EXP_DEVCTL, 2, P.PCI_EXP_DEVCTL_BCR_FLR | P.PCI_EXP_DEVCTL_PAYLOAD | P.PCI_EXP_DEVCTL_READRQ, unchecked((ushort)~P.PCI_EXP_DEVCTL_PHANTOM));
        p.Set(P.PCI_EXP_DEVCTL2, 2, NoVirt, unchecked((ushort)~P.PCI_EXP_DEVCTL2_ARI));
        return p;
    }

    /// <summary>init_pci_cap_msi_perm: an MSI capability of <paramref name="length"/> bytes with <paramref name="flags"/>.</summary>
    public static ConfigPermissions Msi(int length, ushort flags)
    {
        var p = new ConfigPermissions(length, ConfigAccessKind.Default);
        p.Set(P.PCI_CAP_LIST_NEXT, 1, AllVirt, NoWrite);
        p.Set(P.PCI_MSI_FLAGS, 1, AllVirt, AllWrite);       // the control register's upper byte is reserved
        p.Set(P.PCI_MSI_ADDRESS_LO, 4, AllVirt, AllWrite);
        bool is64 = (flags & P.PCI_MSI_FLAGS_64BIT) != 0;
        p.Set(is64 ? P.PCI_MSI_DATA_64 : P.PCI_MSI_DATA_32, 2, AllVirt, AllWrite);
        if (is64)
        {
            p.Set(P.PCI_MSI_ADDRESS_HI, 4, AllVirt, AllWrite);
        }

        if ((flags & P.PCI_MSI_FLAGS_MASKBIT) != 0)
        {
            p.Set(is64 ? P.PCI_MSI_MASK_64 : P.PCI_MSI_MASK_32, 4, NoVirt, AllWrite);
            p.Set(is64 ? P.PCI_MSI_PENDING_64 : P.PCI_MSI_PENDING_32, 4, NoVirt, AllWrite);
        }

        return p;
    }

    /// <summary>vfio_msi_cap_len: 10 bytes, 4 more for 64-bit addresses, 10 more for per-vector masking.</summary>
    public static int MsiLength(ushort flags) =>
        10 + ((flags & P.PCI_MSI_FLAGS_64BIT) != 0 ? 4 : 0) + ((flags & P.PCI_MSI_FLAGS_MASKBIT) != 0 ? 10 : 0);
}
