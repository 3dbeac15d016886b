using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Samples.Edu;

/// <summary>
/// A userspace driver for the edu device through VFIO: map BAR0, turn on bus mastering, route the
/// first MSI-X vector (or MSI) to an eventfd, and move data with the device's DMA engine. It uses
/// only the Runtime API, so the same code drives the engine's model and QEMU's device under a real
/// kernel. The caller owns the IOMMU side (iommufd IOAS, or a legacy container) and passes IOVAs.
/// </summary>
public sealed class EduDriver : IDisposable
{
    private const uint ExpectedIdentification = 0xED;
    private readonly VfioDevice _device;
    private readonly MmioRegion _bar;
    private readonly EventFd _interrupt;

    /// <summary>Takes over an opened (bound or group-obtained) device fd.</summary>
    public EduDriver(VfioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _bar = device.MapRegion(device.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX));
        uint id = _bar.Read32(EduRegisters.Identification);
        if ((id & 0xFF) != ExpectedIdentification)
        {
            throw new InvalidOperationException($"BAR0 identification 0x{id:X8} is not an edu device");
        }

        Version = ((id >> 24) & 0xFF, (id >> 16) & 0xFF);

        // The PCI command register: memory space and bus master on.
        uint command = device.ReadConfig32(Abi.Linux.Pci.Constants.PCI_COMMAND) & 0xFFFF;
        device.WriteConfig32(Abi.Linux.Pci.Constants.PCI_COMMAND, command | Abi.Linux.Pci.Constants.PCI_COMMAND_MEMORY | Abi.Linux.Pci.Constants.PCI_COMMAND_MASTER);

        _interrupt = EventFd.Create(device.Kernel);
        InterruptIndex = device.GetIrqInfo(Constants.VFIO_PCI_MSIX_IRQ_INDEX).Count > 0 ? Constants.VFIO_PCI_MSIX_IRQ_INDEX : Constants.VFIO_PCI_MSI_IRQ_INDEX;
        device.SetIrqTriggers(InterruptIndex, 0, [_interrupt]);
    }

    /// <summary>The device's major and minor version.</summary>
    public (uint Major, uint Minor) Version { get; }

    /// <summary>The VFIO IRQ index in use (MSI-X where the device has it, else MSI).</summary>
    public uint InterruptIndex { get; }

    /// <summary>Writes <paramref name="value"/> to the liveness register and returns what the device answers (its inverse).</summary>
    public uint CheckLiveness(uint value)
    {
        _bar.Write32(EduRegisters.Liveness, value);
        return _bar.Read32(EduRegisters.Liveness);
    }

    /// <summary>Has the device compute n! (32-bit, wrapping).</summary>
    public uint Factorial(uint n, int timeoutMilliseconds = 1000)
    {
        _bar.Write32(EduRegisters.Factorial, n);
        Poll(() => (_bar.Read32(EduRegisters.Status) & EduRegisters.StatusComputing) == 0, timeoutMilliseconds);
        return _bar.Read32(EduRegisters.Factorial);
    }

    /// <summary>DMA: <paramref name="count"/> bytes from IOVA <paramref name="iova"/> into the device buffer at <paramref name="bufferOffset"/>.</summary>
    public void ReadFromMemory(ulong iova, int count, int bufferOffset = 0, int timeoutMilliseconds = 1000) =>
        Transfer(iova, EduRegisters.Buffer + (ulong)bufferOffset, count, 0, timeoutMilliseconds);

    /// <summary>DMA: <paramref name="count"/> bytes from the device buffer at <paramref name="bufferOffset"/> to IOVA <paramref name="iova"/>.</summary>
    public void WriteToMemory(ulong iova, int count, int bufferOffset = 0, int timeoutMilliseconds = 1000) =>
        Transfer(EduRegisters.Buffer + (ulong)bufferOffset, iova, count, EduRegisters.DmaToRam, timeoutMilliseconds);

    /// <summary>Copies <paramref name="count"/> bytes (≤ 4096) from one IOVA to another through the device buffer: two DMAs, the second raising an interrupt.</summary>
    public void Copy(ulong sourceIova, ulong destinationIova, int count, int timeoutMilliseconds = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, EduRegisters.BufferSize);
        Transfer(sourceIova, EduRegisters.Buffer, count, 0, timeoutMilliseconds);
        Transfer(EduRegisters.Buffer, destinationIova, count, EduRegisters.DmaToRam | EduRegisters.DmaRaiseInterrupt, timeoutMilliseconds);
    }

    /// <summary>Waits for the interrupt, then acknowledges it at the device; returns the interrupt status it acknowledged, or 0 on timeout.</summary>
    public uint WaitForInterrupt(int timeoutMilliseconds)
    {
        if (!_interrupt.Wait(timeoutMilliseconds) || !_interrupt.TryRead(out _))
        {
            return 0;
        }

        uint status = _bar.Read32(EduRegisters.InterruptStatus);
        _bar.Write32(EduRegisters.InterruptAcknowledge, status);
        return status;
    }

    /// <summary>Raises interrupt bits from the driver side (the device's raise register), to test the interrupt path.</summary>
    public void RaiseInterrupt(uint bits) => _bar.Write32(EduRegisters.InterruptRaise, bits);

    /// <summary>Disables interrupts and unmaps BAR0; the device fd stays the caller's.</summary>
    public void Dispose()
    {
        _device.DisableIrqs(InterruptIndex);
        _interrupt.Dispose();
        _bar.Dispose();
    }

    private void Transfer(ulong source, ulong destination, int count, ulong direction, int timeoutMilliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        _bar.Write64(EduRegisters.DmaSource, source);
        _bar.Write64(EduRegisters.DmaDestination, destination);
        _bar.Write64(EduRegisters.DmaCount, (ulong)count);
        MmioRegion.WriteBarrier();
        _bar.Write64(EduRegisters.DmaCommand, EduRegisters.DmaStart | direction);
        Poll(() => (_bar.Read64(EduRegisters.DmaCommand) & EduRegisters.DmaStart) == 0, timeoutMilliseconds);
        MmioRegion.ReadBarrier();
    }

    private static void Poll(Func<bool> done, int timeoutMilliseconds)
    {
        long deadline = Environment.TickCount64 + timeoutMilliseconds;
        while (!done())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"the edu device did not finish within {timeoutMilliseconds} ms");
            }

            Thread.SpinWait(64);
        }
    }
}
