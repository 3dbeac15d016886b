using Abi.Engine.Iommufd;

namespace Abi.Engine.Selftest;

/// <summary>What the mock driver keeps per mock device (<c>struct mock_dev</c> in selftest.c).</summary>
internal sealed class MockDeviceState
{
    /// <summary>The mock device's cache slots (MOCK_DEV_CACHE_NUM).</summary>
    public const int CacheSlots = (int)Uapi.Constants.MOCK_DEV_CACHE_NUM;

    /// <summary>The cache slots: IOMMU_TEST_DEV_CACHE_DEFAULT until a vIOMMU invalidation clears them.</summary>
    private readonly uint[] _cache = [.. Enumerable.Repeat((uint)Uapi.Constants.IOMMU_TEST_DEV_CACHE_DEFAULT, CacheSlots)];

    public uint CacheAt(int slot) => _cache[slot];

    public void SetCache(int slot, uint value) => _cache[slot] = value;

    public void ClearCache() => Array.Clear(_cache);

    /// <summary>
    /// What the driver noted at the last attach that changed it: the vIOMMU of the nested HWPT the
    /// device went to and the device's virtual ID there (TRIGGER_VEVENT reports with these).
    /// </summary>
    public (ViommuObject? Viommu, ulong VirtId) Viommu { get; set; }

    /// <summary>Armed by a successful change of PASID 1024: the next change fails once.</summary>
    public bool Pasid1024Fails { get; set; }
}
