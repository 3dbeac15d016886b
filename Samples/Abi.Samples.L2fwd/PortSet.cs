using Abi.Runtime.Kernel;
using Abi.Runtime.Vfio;
using Abi.Samples.VirtioNet;

namespace Abi.Samples.L2fwd;

/// <summary>
/// The two ports and what they share: one iommufd context, one IOAS both devices are attached to,
/// one mbuf pool mapped in it. The same code opens the engine's devices and real vfio-pci ones.
/// </summary>
public sealed class PortSet : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    private PortSet(IommuFd iommufd, Ioas ioas, MbufPool pool, VirtioNetPort[] ports)
    {
        Iommufd = iommufd;
        Ioas = ioas;
        Pool = pool;
        Ports = ports;
    }

    public IommuFd Iommufd { get; }

    public Ioas Ioas { get; }

    public MbufPool Pool { get; }

    public IReadOnlyList<VirtioNetPort> Ports { get; }

    /// <summary>Opens each cdev, binds it to a fresh iommufd, attaches it to one IOAS, and starts the driver.</summary>
    public static PortSet Open(IKernel kernel, IReadOnlyList<string> cdevPaths, int mbufs = 4096)
    {
        ArgumentNullException.ThrowIfNull(cdevPaths);
        var cleanup = new Stack<IDisposable>();
        try
        {
            IommuFd iommufd = Push(cleanup, IommuFd.Open(kernel));
            Ioas ioas = Push(cleanup, iommufd.AllocIoas());
            var devices = new List<VfioDevice>();
            foreach (string path in cdevPaths)
            {
                VfioDevice device = Push(cleanup, VfioDevice.OpenCdev(path, kernel));
                device.BindIommufd(iommufd);
                device.Attach(ioas.Id);
                devices.Add(device);
            }

            MbufPool pool = Push(cleanup, new MbufPool(ioas, mbufs));
            var ports = devices.Select(d => Push(cleanup, new VirtioNetPort(d, ioas, pool))).ToArray();
            var set = new PortSet(iommufd, ioas, pool, ports);

            // Teardown in reverse: ports (devices reset, rings unmapped), pool, devices, IOAS, iommufd.
            while (cleanup.Count > 0)
            {
                set._owned.Add(cleanup.Pop());
            }

            return set;
        }
        catch
        {
            while (cleanup.Count > 0)
            {
                cleanup.Pop().Dispose();
            }

            throw;
        }
    }

    public void Dispose()
    {
        foreach (IDisposable owned in _owned)
        {
            owned.Dispose();
        }

        _owned.Clear();
    }

    private static T Push<T>(Stack<IDisposable> stack, T item)
        where T : IDisposable
    {
        stack.Push(item);
        return item;
    }
}
