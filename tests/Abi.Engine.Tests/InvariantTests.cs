using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;

namespace Abi.Engine.Tests;

/// <summary>
/// A seeded random walk of 10^5 ioctls, a fair share of them malformed (unknown flags, reserved
/// bits, bad ids, overflowing ranges, bad sizes), devices attaching and detaching and HWPTs coming
/// and going, with the engine's invariants checked after every call: areas sorted and disjoint,
/// page references matching the areas, alignment respected, ids unique, the pinned-page counters
/// equal to what domains pin, and nothing left (nothing pinned) once the context is closed.
/// </summary>
public sealed unsafe class InvariantTests
{
    private const ulong Page = 4096;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void RandomIoctls_NeverBreakTheInvariants(int seed)
    {
        var kernel = new EmulatedKernel();
        kernel.Accounting.HasIpcLock = false;
        kernel.Accounting.LimitPages = 48;                        // low enough that ENOMEM happens
        using var memory = Abi.Runtime.Memory.DmaBuffer.Allocate(kernel, 4096 * (long)Page, preferHugePages: false);
        int fd = kernel.Open("/dev/iommu\0"u8, 2, 0);
        Assert.True(fd >= 0);
        var ctx = (IommufdFile)kernel.FileOf(fd)!;
        var ioctls = new IommufdIoctls(kernel, fd);
        var devices = new List<(int Fd, uint Id)>();
        for (int d = 0; d < 2; d++)
        {
            string path = kernel.AddDevice(new Abi.Engine.Devices.EduDevice()).CdevPath! + "\0";
            int deviceFd = kernel.Open(System.Text.Encoding.ASCII.GetBytes(path), 2, 0);
            var bind = new vfio_device_bind_iommufd { argsz = 16, iommufd = fd };
            Assert.Equal(Errno.None, new VfioDeviceIoctls(kernel, deviceFd).TryBindIommufd(ref bind));
            devices.Add((deviceFd, bind.out_devid));
        }

        var random = new Random(seed);
        var ioasIds = new List<uint>();
        iommu_iova_range* scratch = stackalloc iommu_iova_range[8];
        var counts = new Dictionary<Errno, int>();
        int attached = 0, hwpts = 0, peakPinned = 0;

        for (int step = 0; step < 100_000; step++)
        {
            Errno result = random.Next(12) switch
            {
                0 => Alloc(),
                1 or 2 or 3 => MapOne(),
                4 or 5 => UnmapOne(),
                6 => CopyOne(),
                7 => Ranges(),
                8 => DestroyOne(),
                9 => AttachOrDetach(),
                10 => HwptAlloc(),
                _ => Malformed(),
            };
            counts[result] = counts.GetValueOrDefault(result) + 1;
            CheckInvariants(ctx);
            peakPinned = Math.Max(peakPinned, (int)kernel.Accounting.MmPinnedPages);
        }

        // The walk exercised both success and the error paths.
        Assert.True(counts[Errno.None] > 10_000);
        Assert.True(counts.Keys.Count(e => e != Errno.None) >= 6, string.Join(", ", counts.Keys));
        Assert.True(attached > 0 && hwpts > 0 && peakPinned > 0, $"attaches {attached}, HWPTs {hwpts}, peak pinned pages {peakPinned}: the accounting checks saw no domain pin anything");
        Assert.True(counts.GetValueOrDefault(Errno.ENOMEM) > 0, "the memlock limit was never reached: " + string.Join(", ", counts));
        foreach ((int deviceFd, uint _) in devices)
        {
            Assert.Equal(0, kernel.Close(deviceFd));
        }

        Assert.Equal(0, kernel.Close(fd));
        Assert.Equal(0, ctx.Objects.Count);
        Assert.Equal(0, kernel.OpenFiles);
        Assert.Equal((0L, 0L, 0L), (kernel.Accounting.UserLockedPages, kernel.Accounting.MmLockedPages, kernel.Accounting.MmPinnedPages));

        uint PickId() => ioasIds.Count > 0 && random.Next(8) != 0 ? ioasIds[random.Next(ioasIds.Count)] : (uint)random.Next(0, 40);

        ulong PickIova() => random.Next(6) switch
        {
            0 => ulong.MaxValue,
            1 => ulong.MaxValue - (ulong)random.Next(0, 0x3000),
            2 => (ulong)random.Next(0, 0x40) * Page + (ulong)random.Next(0, 2) * 0x10,
            _ => (ulong)random.Next(0, 0x400) * Page,
        };

        ulong PickLength() => random.Next(8) switch
        {
            0 => 0,
            1 => ulong.MaxValue,
            2 => (ulong)random.Next(1, 0x3000),
            _ => (ulong)random.Next(1, 16) * Page,
        };

        Errno Alloc()
        {
            if (ioasIds.Count >= 12)
            {
                return DestroyOne();      // a bounded population keeps the check after every step cheap
            }

            var cmd = new iommu_ioas_alloc { flags = random.Next(20) == 0 ? 1u : 0u };
            Errno e = ioctls.TryIoasAlloc(ref cmd);
            if (e == Errno.None)
            {
                ioasIds.Add(cmd.out_ioas_id);
            }

            return e;
        }

        Errno MapOne()
        {
            var cmd = new iommu_ioas_map
            {
                flags = (uint)random.Next(0, 8) | (random.Next(30) == 0 ? 0x10u : 0u),
                ioas_id = PickId(),
                __reserved = random.Next(30) == 0 ? 1u : 0u,
                user_va = random.Next(10) switch
                {
                    0 => ulong.MaxValue - Page,
                    1 => (ulong)random.Next(1, 0x1000) * Page,                                // memory the engine does not know
                    _ => (ulong)memory.Address + ((ulong)random.Next(0, 4000) * Page),    // memory it does
                },
                length = PickLength(),
                iova = PickIova(),
            };
            return ioctls.TryIoasMap(ref cmd);
        }

        Errno UnmapOne()
        {
            // Unmap-all now and then, and always on the fullest IOAS past 128 areas: attached devices keep
            // IOASes alive, and areas piling up there would only slow the check after every step.
            IoasObject? fullest = ctx.Objects.All().OfType<IoasObject>().MaxBy(i => i.Iopt.AreaCount);
            var cmd = fullest is not null && fullest.Iopt.AreaCount > 128
                ? new iommu_ioas_unmap { ioas_id = fullest.Id, iova = 0, length = ulong.MaxValue }
                : random.Next(20) == 0
                ? new iommu_ioas_unmap { ioas_id = PickId(), iova = 0, length = ulong.MaxValue }
                : new iommu_ioas_unmap { ioas_id = PickId(), iova = PickIova(), length = PickLength() };
            return ioctls.TryIoasUnmap(ref cmd);
        }

        Errno CopyOne()
        {
            var cmd = new iommu_ioas_copy
            {
                flags = (uint)random.Next(0, 8),
                dst_ioas_id = PickId(),
                src_ioas_id = PickId(),
                length = PickLength(),
                dst_iova = PickIova(),
                src_iova = PickIova(),
            };
            return ioctls.TryIoasCopy(ref cmd);
        }

        Errno Ranges()
        {
            var cmd = new iommu_ioas_iova_ranges { ioas_id = PickId(), num_iovas = (uint)random.Next(0, 9), allowed_iovas = (ulong)scratch, __reserved = random.Next(30) == 0 ? 1u : 0u };
            return ioctls.TryIoasIovaRanges(ref cmd);
        }

        Errno DestroyOne()
        {
            var cmd = new iommu_destroy { id = PickId() };
            Errno e = ioctls.TryDestroy(ref cmd);
            if (e == Errno.None)
            {
                ioasIds.Remove(cmd.id);
            }

            return e;
        }

        Errno AttachOrDetach()
        {
            (int deviceFd, uint _) = devices[random.Next(devices.Count)];
            var raw = new VfioDeviceIoctls(kernel, deviceFd);
            if (random.Next(3) == 0)
            {
                var detach = new vfio_device_detach_iommufd_pt { argsz = 8 };
                return raw.TryDetachIommufdPt(ref detach);
            }

            var attach = new vfio_device_attach_iommufd_pt { argsz = 12, pt_id = PickId() };
            Errno e = raw.TryAttachIommufdPt(ref attach);
            attached += e == Errno.None ? 1 : 0;
            return e;
        }

        Errno HwptAlloc()
        {
            var cmd = new iommu_hwpt_alloc { size = 48, dev_id = devices[random.Next(devices.Count)].Id, pt_id = PickId() };
            Errno e = ioctls.TryHwptAlloc(ref cmd);
            if (e == Errno.None)
            {
                ioasIds.Add(cmd.out_hwpt_id);       // a HWPT id is also what attach and destroy pick from
                hwpts++;
            }

            return e;
        }

        Errno Malformed()
        {
            // A raw argument with a random size and random tail bytes, for a random iommufd number.
            byte* buffer = stackalloc byte[64];
            new Span<byte>(buffer, 64).Clear();
            uint size = (uint)random.Next(0, 64);
            *(uint*)buffer = size;
            if (random.Next(2) == 0)
            {
                buffer[random.Next(4, 64)] = (byte)random.Next(1, 256);
            }

            uint nr = (uint)random.Next(0x7E, 0x96);
            int rc = kernel.Ioctl(fd, 0x3B00 | nr, (nint)buffer);
            if (rc == 0 && nr == 0x8E)
            {
                // A fault queue was created: its fd is the caller's to close, as with the kernel.
                Assert.Equal(0, kernel.Close(*(int*)(buffer + 12)));
            }

            return rc < 0 ? (Errno)(-rc) : Errno.None;
        }
    }

    internal static void CheckInvariants(IommufdFile ctx)
    {
        // One pass: per pages object, how many areas refer to it and how many of those sit in an IOAS with a domain.
        var references = new Dictionary<Pages, (int Areas, int DomainAreas)>(ReferenceEqualityComparer.Instance);
        var pinned = new Dictionary<Pages, HashSet<ulong>>(ReferenceEqualityComparer.Instance);
        var ids = new HashSet<uint>();
        foreach (IommufdObject value in ctx.Objects.All())
        {
            Assert.True(value.Id != 0 && ids.Add(value.Id));
            if (value is not IoasObject ioas)
            {
                continue;
            }

            int inDomain = ioas.Iopt.Domains.Length > 0 ? 1 : 0;
            int seen = 0;
            ulong previousLast = 0;
            foreach (Area area in ioas.Iopt.Areas)
            {
                Assert.True(area.Iova <= area.Last);
                Assert.True(seen++ == 0 || previousLast < area.Iova, "areas overlap or are unsorted");
                previousLast = area.Last;
                Assert.Equal(0ul, area.Length % ioas.Iopt.Alignment);
                Assert.True(area.Readable || area.Writable);
                Assert.True(!area.Writable || area.Pages.Writable);
                (int areas, int domainAreas) = references.GetValueOrDefault(area.Pages);
                references[area.Pages] = (areas + 1, domainAreas + inDomain);
                if (inDomain == 1 && area.Pages.DmaBuf is null)
                {
                    // The pages the area pins: every 4 KiB page its source bytes touch.
                    HashSet<ulong> set = pinned.TryGetValue(area.Pages, out HashSet<ulong>? known) ? known : pinned[area.Pages] = [];
                    ulong start = area.Pages.SourceAddress + area.PagesOffset;
                    for (ulong page = start / 4096; page <= (start + area.Length - 1) / 4096; page++)
                    {
                        set.Add(page);
                    }
                }
            }

            Assert.Equal(ioas.Iopt.AreaCount, seen);
        }

        // Accounting: each page that some domain's area pins is charged once, in its pages' mode.
        long user = 0, mm = 0, total = 0;
        foreach ((Pages pages, (int areas, int domainAreas)) in references)
        {
            Assert.Equal(areas, pages.Areas);
            Assert.Equal(domainAreas, pages.DomainAreas);
            long count = pinned.TryGetValue(pages, out HashSet<ulong>? set) ? set.Count : 0;
            Assert.Equal(count, pages.Pins.Distinct);
            Pages.AddCharge(pages.Mode, count, ref user, ref mm);
            total += count;
        }

        PinAccounting accounting = ctx.Kernel.Accounting;
        Assert.Equal((user, mm, total), (accounting.UserLockedPages, accounting.MmLockedPages, accounting.MmPinnedPages));
        Assert.True(accounting.UserLockedPages <= accounting.LimitPages && accounting.MmLockedPages <= accounting.LimitPages);
    }
}
