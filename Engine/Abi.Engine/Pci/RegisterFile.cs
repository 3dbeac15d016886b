using Abi.Runtime.Kernel;

namespace Abi.Engine.Pci;

/// <summary>A BAR of plain registers: writes are stored, reads give back what was stored (a device model without behaviour behind them).</summary>
public sealed class RegisterFile(ulong size) : IMmioHandler
{
    private readonly byte[] _bytes = new byte[size];
    private readonly Lock _lock = new();

    /// <inheritdoc/>
    public ulong Read(long offset, int size)
    {
        lock (_lock)
        {
            ulong value = 0;
            for (int i = 0; i < size; i++)
            {
                value |= (ulong)_bytes[offset + i] << (8 * i);
            }

            return value;
        }
    }

    /// <inheritdoc/>
    public void Write(long offset, int size, ulong value)
    {
        lock (_lock)
        {
            for (int i = 0; i < size; i++)
            {
                _bytes[offset + i] = (byte)(value >> (8 * i));
            }
        }
    }
}
