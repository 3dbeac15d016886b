namespace Abi.Samples.Edu;

/// <summary>BAR0 register offsets and bits of QEMU's edu device (docs/specs/edu.rst in QEMU).</summary>
internal static class EduRegisters
{
    public const long Identification = 0x00;
    public const long Liveness = 0x04;
    public const long Factorial = 0x08;
    public const long Status = 0x20;
    public const long InterruptStatus = 0x24;
    public const long InterruptRaise = 0x60;
    public const long InterruptAcknowledge = 0x64;
    public const long DmaSource = 0x80;
    public const long DmaDestination = 0x88;
    public const long DmaCount = 0x90;
    public const long DmaCommand = 0x98;

    public const uint StatusComputing = 0x01;
    public const ulong DmaStart = 0x1, DmaToRam = 0x2, DmaRaiseInterrupt = 0x4;

    /// <summary>The device buffer's address in the device's DMA space.</summary>
    public const ulong Buffer = 0x40000;

    public const int BufferSize = 4096;
}
