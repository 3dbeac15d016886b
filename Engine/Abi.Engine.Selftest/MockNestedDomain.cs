namespace Abi.Engine.Selftest;

/// <summary>
/// What the mock driver keeps per nested domain (<c>struct mock_iommu_domain_nested</c> in
/// selftest.c): IOTLB slots, set from the HWPT data's <c>iotlb</c>, cleared by IOMMU_HWPT_INVALIDATE
/// and read by MD_CHECK_IOTLB.
/// </summary>
internal sealed class MockNestedDomain
{
    /// <summary>The IOTLB slots (MOCK_NESTED_DOMAIN_IOTLB_NUM).</summary>
    public const int IotlbSlots = (int)Uapi.Constants.MOCK_NESTED_DOMAIN_IOTLB_NUM;

    private readonly uint[] _iotlb = new uint[IotlbSlots];

    public MockNestedDomain(uint iotlb) => Array.Fill(_iotlb, iotlb);

    public uint IotlbAt(int slot) => _iotlb[slot];

    public void SetIotlb(int slot, uint value) => _iotlb[slot] = value;

    public void ClearIotlb() => Array.Clear(_iotlb);
}
