using System.Runtime.InteropServices;

namespace Abi.Engine.Selftest;

/// <summary>
/// <c>struct iommu_test_cmd</c> (the kernel's <c>iommufd_test.h</c>, which is not UAPI, so the
/// generator does not see it): size, op, id, __reserved, a 48-byte union of per-op arguments at
/// offset 16, then <c>last</c>. 72 bytes; the minimum size is 68 (offsetofend of <c>last</c>).
/// Each union member is exposed at its offset under the op's name.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct IommuTestCmd
{
    public const uint Size = 72, MinSize = 68;

    [FieldOffset(0)] public uint size;
    [FieldOffset(4)] public uint op;
    [FieldOffset(8)] public uint id;
    [FieldOffset(12)] public uint __reserved;

    // add_reserved {start, length}; check_map {iova, length, uptr}; access_rw {iova, length, uptr, flags}
    [FieldOffset(16)] public ulong u64_16;
    [FieldOffset(24)] public ulong u64_24;
    [FieldOffset(32)] public ulong u64_32;
    [FieldOffset(40)] public ulong u64_40;
    [FieldOffset(48)] public ulong u64_48;
    [FieldOffset(56)] public ulong u64_56;

    // 32-bit members: mock_domain {out_stdev_id, out_hwpt_id, out_idev_id, dev_flags}; create_access
    // {out_access_fd, flags}; access_pages {flags, out_access_pages_id, ...}; check_refs.refs at 32.
    [FieldOffset(16)] public uint u32_16;
    [FieldOffset(20)] public uint u32_20;
    [FieldOffset(24)] public uint u32_24;
    [FieldOffset(28)] public uint u32_28;
    [FieldOffset(32)] public uint u32_32;
    [FieldOffset(40)] public uint u32_40;

    [FieldOffset(64)] public uint last;
}
