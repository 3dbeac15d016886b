using System.CommandLine;
using Abi.Headers.Tool;

RootCommand root = new("Reads Linux UAPI headers into ABI models and compares models.")
{
    Commands.Fetch(),
    Commands.Extract(),
    Commands.Diff(),
};

return root.Parse(args).Invoke();
