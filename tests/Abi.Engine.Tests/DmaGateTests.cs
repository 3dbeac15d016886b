using Abi.Engine.Iommufd;

namespace Abi.Engine.Tests;

/// <summary>
/// The DMA gate closed to readers until the first one comes (writers then enter with plain stores):
/// the first reader waits for a writer already inside, and from then on no reader is inside with a writer.
/// </summary>
public sealed class DmaGateTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);

    [Fact]
    public void TheFirstReader_WaitsForTheWriterInsideTheClosedGate()
    {
        var gate = new DmaGate();
        gate.EnterWrite();                          // plain: nobody has read yet
        Assert.False(gate.IsOpen);
        int read = 0;
        var reader = new Thread(() =>
        {
            gate.EnterRead();
            Volatile.Write(ref read, 1);
            gate.ExitRead();
        });
        reader.Start();
        Thread.Sleep(50);
        Assert.Equal(0, Volatile.Read(ref read));   // held off by the writer's plain store
        gate.ExitWrite();
        Assert.True(reader.Join(s_patience));
        Assert.Equal(1, read);
        Assert.True(gate.IsOpen);
    }

    [Fact]
    public void AWriterOfTheOpenGate_WaitsForTheReaderInside()
    {
        var gate = new DmaGate();
        gate.EnterRead();
        int written = 0;
        var writer = new Thread(() =>
        {
            gate.EnterWrite();
            Volatile.Write(ref written, 1);
            gate.ExitWrite();
        });
        writer.Start();
        Thread.Sleep(50);
        Assert.Equal(0, Volatile.Read(ref written));
        gate.ExitRead();
        Assert.True(writer.Join(s_patience));
        Assert.Equal(1, written);
    }

    [Fact]
    public void ReadersThatComeWhileAWriterWorks_NeverSeeItsChangeHalfDone()
    {
        // The writer keeps two counters equal outside its sections and unequal inside; readers that
        // open the gate at some moment of its run must only ever see them equal.
        for (int trial = 0; trial < 20; trial++)
        {
            var gate = new DmaGate();
            long first = 0, second = 0;
            bool stop = false;
            int torn = 0;
            var writer = new Thread(() =>
            {
                while (!Volatile.Read(ref stop))
                {
                    gate.EnterWrite();
                    Volatile.Write(ref first, first + 1);
                    Thread.SpinWait(20);
                    Volatile.Write(ref second, second + 1);
                    gate.ExitWrite();
                    Thread.SpinWait(20);            // writers prevail over readers: leave them room
                }
            });
            writer.Start();
            var readers = new Thread[2];
            for (int r = 0; r < readers.Length; r++)
            {
                readers[r] = new Thread(() =>
                {
                    Thread.SpinWait(Random.Shared.Next(1, 20_000));
                    for (int i = 0; i < 2_000; i++)
                    {
                        gate.EnterRead();
                        if (Volatile.Read(ref first) != Volatile.Read(ref second))
                        {
                            Interlocked.Increment(ref torn);
                        }

                        gate.ExitRead();
                    }
                });
                readers[r].Start();
            }

            foreach (Thread reader in readers)
            {
                Assert.True(reader.Join(s_patience));
            }

            Volatile.Write(ref stop, true);
            Assert.True(writer.Join(s_patience));
            Assert.Equal(0, torn);
            Assert.True(gate.IsOpen);
        }
    }
}
