using Abi.Engine;
using Abi.Engine.Devices;
using Abi.Engine.Iommufd;
using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Engine.Vfio;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>Tests that count this process's fds or reuse fd numbers run alone, so no other test opens files meanwhile.</summary>
[CollectionDefinition(nameof(SerialCollection), DisableParallelization = true)]
public sealed class SerialCollection
{
}
