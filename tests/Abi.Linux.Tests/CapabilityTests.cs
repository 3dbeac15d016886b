using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Abi.Interop;

namespace Abi.Linux.Tests;

public sealed unsafe class CapabilityTests
{
    /// <summary>A vfio_region_info (32 bytes) followed by caps at 32 and 48, as the kernel lays them out.</summary>
    private static byte[] RegionInfoWithTwoCaps(uint secondNext = 0)
    {
        byte[] buffer = new byte[64];
        ref vfio_region_info info = ref vfio_region_info.FromBuffer(buffer);
        info.argsz = 64;
        info.flags = Constants.VFIO_REGION_INFO_FLAG_CAPS;
        info.cap_offset = 32;
        WriteHeader(buffer, 32, id: Constants.VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, next: 48);
        WriteHeader(buffer, 48, id: Constants.VFIO_REGION_INFO_CAP_TYPE, version: 1, next: secondNext);
        return buffer;
    }

    private static void WriteHeader(byte[] buffer, int at, ushort id, ushort version, uint next)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), id);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at + 2), version);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 4), next);
    }

    [Fact]
    public void Chain_YieldsEachCapabilityWithItsBytes()
    {
        byte[] buffer = RegionInfoWithTwoCaps();
        var seen = new List<(ushort Id, uint Offset, int Length)>();
        foreach (Capability cap in new CapabilityChain(buffer, 32, sizeof(vfio_region_info)))
        {
            seen.Add((cap.Id, cap.Offset, cap.Bytes.Length));
        }

        Assert.Equal([((ushort)Constants.VFIO_REGION_INFO_CAP_SPARSE_MMAP, 32u, 16), ((ushort)Constants.VFIO_REGION_INFO_CAP_TYPE, 48u, 16)], seen);
        Assert.Equal(0, Count(buffer, 0));
    }

    [Theory]
    [InlineData(60u)]   // header would run past argsz
    [InlineData(32u)]   // points back: a loop
    [InlineData(8u)]    // inside the info struct itself
    public void BadNextOffset_IsRejectedBeforeItIsRead(uint next)
    {
        byte[] buffer = RegionInfoWithTwoCaps(secondNext: next);
        Assert.Throws<InvalidDataException>(() => Count(buffer, 32));
    }

    [Fact]
    public void ChainIsBoundedByTheSpanItIsGiven_NotByTheCapabilities()
    {
        byte[] buffer = RegionInfoWithTwoCaps();
        Assert.Throws<InvalidDataException>(() => Count(buffer.AsSpan(0, 52).ToArray(), 32));
    }

    [Fact]
    public void ArgszQuery_GrowsTheBufferUntilTheKernelsAnswerFits()
    {
        var seam = new RecordingSeam { Handler = &FakeRegionInfo };
        var device = new VfioDeviceIoctls(seam, fd: 3);
        using CapabilityBuffer<vfio_region_info> result = device.GetRegionInfoWithCapabilities(new vfio_region_info { index = 2 });

        Assert.Equal(2, seam.Calls);
        Assert.Equal(2000, result.Bytes.Length);
        Assert.Equal(2u, result.Value.index);
        int count = 0;
        foreach (Capability cap in result.Capabilities(result.Value.cap_offset))
        {
            Assert.Equal(Constants.VFIO_REGION_INFO_CAP_TYPE, cap.Id);
            count++;
        }

        Assert.Equal(1, count);
    }

    [Fact]
    public void ArgszQuery_ReportsTheKernelsErrno()
    {
        var seam = new RecordingSeam { Result = -(int)Errno.EINVAL };
        var device = new VfioDeviceIoctls(seam, fd: 3);
        IoctlException e = Assert.Throws<IoctlException>(() => device.GetRegionInfoWithCapabilities(default));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    private static int Count(byte[] buffer, uint first)
    {
        int n = 0;
        foreach (Capability cap in new CapabilityChain(buffer, first, sizeof(vfio_region_info)))
        {
            n++;
        }

        return n;
    }

    /// <summary>Answers like VFIO_DEVICE_GET_REGION_INFO for a region whose capability needs 2000 bytes in all.</summary>
    private static int FakeRegionInfo(nint argument)
    {
        ref vfio_region_info info = ref *(vfio_region_info*)argument;
        const uint needed = 2000;
        info.flags |= Constants.VFIO_REGION_INFO_FLAG_CAPS;
        if (info.argsz < needed)
        {
            info.argsz = needed;
            info.cap_offset = 0;
            return 0;
        }

        info.cap_offset = 1000;
        byte* cap = (byte*)argument + 1000;
        *(ushort*)cap = (ushort)Constants.VFIO_REGION_INFO_CAP_TYPE;
        *(ushort*)(cap + 2) = 1;
        *(uint*)(cap + 4) = 0;
        info.argsz = needed;
        return 0;
    }
}
