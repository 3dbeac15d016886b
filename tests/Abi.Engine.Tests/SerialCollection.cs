namespace Abi.Engine.Tests;

/// <summary>Tests that count this process's fds or reuse fd numbers run alone, so no other test opens files meanwhile.</summary>
[CollectionDefinition(nameof(SerialCollection), DisableParallelization = true)]
public sealed class SerialCollection
{
}
