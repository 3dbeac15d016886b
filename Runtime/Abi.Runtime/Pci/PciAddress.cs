using System.Globalization;

namespace Abi.Runtime.Pci;

/// <summary>
/// A PCI function's address as Linux names it in sysfs and VFIO: <c>dddd:bb:dd.f</c> (domain, bus,
/// device, function, hexadecimal). <see cref="Parse"/> also takes the short <c>bb:dd.f</c> (domain 0).
/// </summary>
public readonly record struct PciAddress(int Domain, int Bus, int Device, int Function)
{
    /// <summary>Parses <c>dddd:bb:dd.f</c> or <c>bb:dd.f</c>.</summary>
    /// <exception cref="FormatException">Not a PCI address, or a part out of range.</exception>
    public static PciAddress Parse(string text) =>
        TryParse(text, out PciAddress address) ? address : throw new FormatException($"'{text}' is not a PCI address (dddd:bb:dd.f or bb:dd.f)");

    /// <summary>Parses <c>dddd:bb:dd.f</c> or <c>bb:dd.f</c>; false if <paramref name="text"/> is neither.</summary>
    public static bool TryParse(string? text, out PciAddress address)
    {
        address = default;
        if (text is null)
        {
            return false;
        }

        string[] parts = text.Trim().Split(':');
        if (parts.Length is < 2 or > 3)
        {
            return false;
        }

        string domainText = parts.Length == 3 ? parts[0] : "0";
        string busText = parts[^2];
        string[] slot = parts[^1].Split('.');
        if (slot.Length != 2
            || !Hex(domainText, 0xFFFF, out int domain) || !Hex(busText, 0xFF, out int bus)
            || !Hex(slot[0], 0x1F, out int device) || !Hex(slot[1], 7, out int function))
        {
            return false;
        }

        address = new PciAddress(domain, bus, device, function);
        return true;
    }

    /// <summary>The canonical form, <c>0000:03:00.0</c>.</summary>
    public override string ToString() => $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x}";

    private static bool Hex(string text, int max, out int value) =>
        int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && text.Length > 0 && value <= max;
}
