namespace Abi.Headers.Packages;

/// <summary>The headers could not be obtained. The message is one line saying why and what to do.</summary>
public sealed class HeaderFetchException : Exception
{
    public HeaderFetchException()
    {
    }

    public HeaderFetchException(string message)
        : base(message)
    {
    }

    public HeaderFetchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
