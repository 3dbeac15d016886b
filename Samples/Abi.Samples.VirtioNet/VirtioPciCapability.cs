using Abi.Runtime.Vfio;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Samples.VirtioNet;

/// <summary>One virtio structure's place: which BAR, where in it, how long (§4.1.4).</summary>
internal readonly record struct VirtioPciCapability(byte Type, byte Bar, uint Offset, uint Length, uint NotifyOffMultiplier)
{
    /// <summary>Walks the PCI capability list and returns the first virtio capability of each type (§4.1.4: "the driver SHOULD use the first one").</summary>
    public static Dictionary<byte, VirtioPciCapability> Find(VfioDevice device)
    {
        var found = new Dictionary<byte, VirtioPciCapability>();
        if (((device.ReadConfig32(P.PCI_COMMAND) >> 16) & P.PCI_STATUS_CAP_LIST) == 0)
        {
            return found;   // the status register (above the command register): no capability list
        }

        int at = (int)(device.ReadConfig32(P.PCI_CAPABILITY_LIST) & 0xFC);
        for (int hops = 0; at != 0 && hops < 48; hops++)
        {
            uint head = device.ReadConfig32(at);      // cap_vndr, cap_next, cap_len, cfg_type
            byte type = (byte)(head >> 24);
            if ((byte)head == VirtioSpec.VendorCapability && !found.ContainsKey(type))
            {
                byte bar = (byte)device.ReadConfig32(at + VirtioSpec.CapBar);
                uint multiplier = type == VirtioSpec.NotifyCfg ? device.ReadConfig32(at + VirtioSpec.CapNotifyMultiplier) : 0;
                found[type] = new VirtioPciCapability(type, bar, device.ReadConfig32(at + VirtioSpec.CapOffset), device.ReadConfig32(at + VirtioSpec.CapLength), multiplier);
            }

            at = (int)((head >> 8) & 0xFC);
        }

        return found;
    }
}
