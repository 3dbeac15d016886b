using Abi.Interop;
using Abi.Samples.VirtioNet;

namespace Abi.Conformance.Scenarios;

/// <summary>The C# virtio-net driver on two devices joined back to back (a QEMU hub in the guest, a wire in the engine): frames sent on one arrive intact on the other.</summary>
internal static class VirtioScenario
{
    public const int Frames = 256;

    public static void Run(Devices devices, Recorder r)
    {
        r.Scenario("virtio-net");
        if (devices.VirtioCdevs.Count < 2)
        {
            r.Step("two virtio-net devices", Errno.ENODEV);
            return;
        }

        try
        {
            using var iommufd = Abi.Runtime.Vfio.IommuFd.Open(devices.Kernel);
            using var ioas = iommufd.AllocIoas();
            using var a = Abi.Runtime.Vfio.VfioDevice.OpenCdev(devices.VirtioCdevs[0], devices.Kernel);
            using var b = Abi.Runtime.Vfio.VfioDevice.OpenCdev(devices.VirtioCdevs[1], devices.Kernel);
            foreach (var device in (ReadOnlySpan<Abi.Runtime.Vfio.VfioDevice>)[a, b])
            {
                device.BindIommufd(iommufd);
                device.Attach(ioas.Id);
            }

            using var pool = new MbufPool(ioas, 1024);
            using var sender = new VirtioNetPort(a, ioas, pool);
            using var receiver = new VirtioNetPort(b, ioas, pool);
            r.Step("initialise both ports", Errno.None, ("features", sender.Features), ("mac a", Convert.ToHexString(sender.Mac)), ("mac b", Convert.ToHexString(receiver.Mac)));

            // Frames addressed to port B, each numbered; sent in bursts of 32, received until all came or 5 s passed.
            Span<Mbuf> burst = new Mbuf[32];
            int sent = 0, received = 0, intact = 0;
            long deadline = Environment.TickCount64 + 5000;
            while ((sent < Frames || received < Frames) && Environment.TickCount64 < deadline)
            {
                int n = 0;
                while (sent + n < Frames && n < burst.Length && pool.Buffers.TryRent(out int index))
                {
                    Span<byte> frame = pool.Room(index)[..60];
                    frame.Clear();
                    receiver.Mac.CopyTo(frame);
                    sender.Mac.CopyTo(frame[6..]);
                    frame[12] = 0x88;
                    frame[13] = 0xB5;       // local experimental EtherType
                    BitConverter.TryWriteBytes(frame[14..], sent + n);
                    burst[n++] = new Mbuf(index, 60);
                }

                int accepted = sender.TxBurst(burst[..n]);
                pool.Free(burst[accepted..n]);
                sent += accepted;
                int got = receiver.RxBurst(burst);
                for (int i = 0; i < got; i++)
                {
                    Span<byte> frame = pool.Data(burst[i]);
                    intact += frame.Length >= 60 && BitConverter.ToInt32(frame[14..]) == received + i ? 1 : 0;
                }

                received += got;
                pool.Free(burst[..got]);
            }

            r.Step($"send {Frames} frames from port A to port B", Errno.None, ("sent", sent), ("received", received), ("in order and intact", intact), ("device needs reset", sender.NeedsReset || receiver.NeedsReset));
        }
        catch (Exception e) when (e is IoctlException or InvalidOperationException or TimeoutException or Abi.Runtime.SyscallException)
        {
            r.Step("virtio-net flow", Errno.EIO, ("error", e.Message));
        }
    }
}
