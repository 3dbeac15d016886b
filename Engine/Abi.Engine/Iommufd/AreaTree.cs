namespace Abi.Engine.Iommufd;

/// <summary>
/// The areas of an io-pagetable, ordered by IOVA, in a B+ tree: lookup, insert and remove cost
/// O(log n) however many areas are mapped (the kernel keeps them in an interval tree,
/// io_pagetable.c). Areas never overlap, so ordering by start also orders by end, and "the first
/// area that ends at or after x" is the one that starts last at or before x, or the one after it.
/// <para>
/// Leaves hold up to <see cref="LeafCapacity"/> areas and are linked in order; branches hold up to
/// <see cref="BranchCapacity"/> children with the smallest IOVA of each. A leaf that empties is
/// unlinked and kept for reuse, so map/unmap in steady state allocates nothing. Not thread-safe:
/// the table changes it under its write lock and reads it under its read lock; a seek for a change
/// (<see cref="TrySeek"/> with forChange) writes the tree's scratch state, so only a writer makes one
/// (under the IOVA lock, which serialises the writers), and readers never look at that state.
/// </para>
/// </summary>
internal sealed class AreaTree
{
    private const int LeafCapacity = 32;
    private const int BranchCapacity = 64;
    private const int MaxDepth = 16;           // 64^15 leaves: more areas than a 64-bit IOVA space holds

    private readonly Node[] _path = new Node[MaxDepth];
    private readonly int[] _slots = new int[MaxDepth];
    private Node _root = new(leaf: true);
    private Node? _spareLeaves, _spareBranches;

    // The last descent made for a change (a writer's seek, then its insert or remove at the same
    // IOVA): its leaf, while _path and _slots still hold its way down and nothing changed since.
    private Node? _memoLeaf;
    private ulong _memoIova;
    private int _memoDepth;

    /// <summary>How many areas the tree holds.</summary>
    public int Count { get; private set; }

    /// <summary>The first area that ends at or after <paramref name="iova"/>, as a position to read from; false if none.</summary>
    /// <param name="iova">Where to look.</param>
    /// <param name="position">The area found.</param>
    /// <param name="forChange">
    /// The caller holds the writers' lock and may insert or remove at <paramref name="iova"/> next (a
    /// map checks the range free, then inserts; an unmap finds the area, then removes it): the way
    /// down is kept, so that the change does not walk the branches again. Readers (DMA) never pass
    /// it: it writes the tree's scratch state.
    /// </param>
    public bool TrySeek(ulong iova, out Position position, bool forChange = false)
    {
        Node leaf = Descend(iova, forChange, out _);
        int slot = LastAtOrBefore(leaf, iova);

        // The area that starts last at or before iova may sit at the end of the leaf before.
        Node? atLeaf = leaf;
        int at = slot;
        if (at < 0)
        {
            atLeaf = leaf.Prev;
            at = atLeaf is null ? -1 : atLeaf.Count - 1;
        }

        if (atLeaf is not null && at >= 0 && atLeaf.Areas![at].Last >= iova)
        {
            position = new Position(atLeaf, at);
            return true;
        }

        // Otherwise the one after it.
        position = new Position(leaf, slot + 1).Normalized();
        return position.Leaf is not null;
    }

    /// <summary>The first area of the tree; false if it is empty.</summary>
    public bool TryFirst(out Position position)
    {
        Node node = _root;
        while (!node.IsLeaf)
        {
            node = node.Children![0];
        }

        position = new Position(node, 0).Normalized();
        return position.Leaf is not null;
    }

    /// <summary>Inserts an area that overlaps none of the others.</summary>
    public void Insert(in Area area)
    {
        Node leaf = Descend(area.Iova, forChange: true, out int depth);
        _memoLeaf = null;
        int slot = LastAtOrBefore(leaf, area.Iova) + 1;
        if (leaf.Count == LeafCapacity)
        {
            Node right = SplitLeaf(leaf);
            InsertSeparator(depth - 1, right.Areas![0].Iova, right);
            if (slot > leaf.Count)
            {
                slot -= leaf.Count;
                leaf = right;
            }
        }

        Area[] areas = leaf.Areas!;
        Shift(areas, slot, slot + 1, leaf.Count - slot);
        areas[slot] = area;
        leaf.Count++;
        Count++;
    }

    /// <summary>Removes the area that starts at <paramref name="iova"/>; false if none does.</summary>
    public bool Remove(ulong iova)
    {
        Node leaf = Descend(iova, forChange: true, out int depth);
        int slot = LastAtOrBefore(leaf, iova);
        if (slot < 0 || leaf.Areas![slot].Iova != iova)
        {
            return false;
        }

        _memoLeaf = null;
        Area[] areas = leaf.Areas!;
        Shift(areas, slot + 1, slot, leaf.Count - slot - 1);
        areas[--leaf.Count] = default;          // drop the Pages reference
        Count--;
        if (leaf.Count == 0 && leaf != _root)
        {
            Unlink(leaf);
            RemoveChild(depth - 1);
        }

        return true;
    }

    /// <summary>Every area, in order (for walks that change nothing).</summary>
    public Enumerator GetEnumerator() => TryFirst(out Position first) ? new Enumerator(first, ulong.MaxValue) : default;

    /// <summary>
    /// Walks to the leaf where <paramref name="iova"/> belongs; <paramref name="forChange"/> keeps the
    /// branches and child slots taken in _path[0..depth-1] and _slots for the change that follows,
    /// and takes them from the last such walk when it was for the same IOVA and nothing changed since.
    /// </summary>
    private Node Descend(ulong iova, bool forChange, out int depth)
    {
        Node node = _root;
        depth = 0;
        if (node.IsLeaf)
        {
            return node;
        }

        if (forChange && _memoLeaf is Node memo && _memoIova == iova)
        {
            depth = _memoDepth;
            return memo;
        }

        while (!node.IsLeaf)
        {
            // The last child whose smallest IOVA is at or below iova (the first child takes anything smaller).
            ulong[] keys = node.Keys!;
            int lo = 1, hi = node.Count;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (keys[mid] <= iova)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            int child = lo - 1;
            if (forChange)
            {
                _path[depth] = node;
                _slots[depth] = child;
            }

            depth++;
            node = node.Children![child];
        }

        if (forChange)
        {
            (_memoLeaf, _memoIova, _memoDepth) = (node, iova, depth);
        }

        return node;
    }

    /// <summary>The slot of the last area in <paramref name="leaf"/> that starts at or before <paramref name="iova"/>, or -1.</summary>
    private static int LastAtOrBefore(Node leaf, ulong iova)
    {
        Area[] areas = leaf.Areas!;
        int lo = 0, hi = leaf.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (areas[mid].Iova <= iova)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo - 1;
    }

    /// <summary>
    /// Moves <paramref name="count"/> elements within <paramref name="array"/>, one by one when they
    /// are few. NativeAOT's <see cref="Array.Copy(Array, int, Array, int, int)"/> of elements that hold
    /// references goes through the runtime's bulk move with its card marking even for one element: 11%
    /// of a C program's map+unmap pair through the interposer in a profile, beside one live area.
    /// </summary>
    private static void Shift<T>(T[] array, int from, int to, int count)
    {
        if (count > 4)
        {
            Array.Copy(array, from, array, to, count);
        }
        else if (to > from)
        {
            for (int i = count - 1; i >= 0; i--)
            {
                array[to + i] = array[from + i];
            }
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                array[to + i] = array[from + i];
            }
        }
    }

    private Node SplitLeaf(Node leaf)
    {
        Node right = Rent(leaf: true);
        int half = leaf.Count / 2;
        Array.Copy(leaf.Areas!, half, right.Areas!, 0, leaf.Count - half);
        Array.Clear(leaf.Areas!, half, leaf.Count - half);
        right.Count = leaf.Count - half;
        leaf.Count = half;
        right.Next = leaf.Next;
        right.Prev = leaf;
        if (leaf.Next is not null)
        {
            leaf.Next.Prev = right;
        }

        leaf.Next = right;
        return right;
    }

    /// <summary>Puts <paramref name="child"/> (starting at <paramref name="key"/>) right after the child taken at <paramref name="depth"/>, splitting upwards as needed.</summary>
    private void InsertSeparator(int depth, ulong key, Node child)
    {
        while (true)
        {
            if (depth < 0)
            {
                // The root split: a new root over the old one and its new sibling.
                Node root = Rent(leaf: false);
                root.Children![0] = _root;
                root.Keys![0] = 0;
                root.Children[1] = child;
                root.Keys[1] = key;
                root.Count = 2;
                _root = root;
                return;
            }

            Node branch = _path[depth];
            int at = _slots[depth] + 1;
            if (branch.Count < BranchCapacity)
            {
                InsertAt(branch, at, key, child);
                return;
            }

            // Split the branch in two halves, put the new child in its half, and carry the right half up.
            Node right = Rent(leaf: false);
            int half = branch.Count / 2;
            int moved = branch.Count - half;
            Array.Copy(branch.Keys!, half, right.Keys!, 0, moved);
            Array.Copy(branch.Children!, half, right.Children!, 0, moved);
            Array.Clear(branch.Children!, half, moved);
            right.Count = moved;
            branch.Count = half;
            if (at <= half)
            {
                InsertAt(branch, at, key, child);
            }
            else
            {
                InsertAt(right, at - half, key, child);
            }

            key = right.Keys![0];
            child = right;
            depth--;
        }
    }

    private static void InsertAt(Node branch, int at, ulong key, Node child)
    {
        Shift(branch.Keys!, at, at + 1, branch.Count - at);
        Shift(branch.Children!, at, at + 1, branch.Count - at);
        branch.Keys![at] = key;
        branch.Children![at] = child;
        branch.Count++;
    }

    /// <summary>Drops the child taken at <paramref name="depth"/> (it emptied), and any branch that empties with it.</summary>
    private void RemoveChild(int depth)
    {
        for (; depth >= 0; depth--)
        {
            Node branch = _path[depth];
            int at = _slots[depth];
            Node gone = branch.Children![at];
            Return(gone);
            Shift(branch.Keys!, at + 1, at, branch.Count - at - 1);
            Shift(branch.Children!, at + 1, at, branch.Count - at - 1);
            branch.Children[--branch.Count] = null!;
            if (branch.Count > 0)
            {
                break;
            }
        }

        // A root with one child hands the root over to it.
        while (!_root.IsLeaf && _root.Count == 1)
        {
            Node old = _root;
            _root = old.Children![0];
            old.Children[0] = null!;
            old.Count = 0;
            Return(old);
        }

        if (!_root.IsLeaf && _root.Count == 0)
        {
            // Every leaf emptied: start again from an empty leaf.
            Return(_root);
            _root = Rent(leaf: true);
        }
    }

    private static void Unlink(Node leaf)
    {
        if (leaf.Prev is not null)
        {
            leaf.Prev.Next = leaf.Next;
        }

        if (leaf.Next is not null)
        {
            leaf.Next.Prev = leaf.Prev;
        }

        leaf.Prev = leaf.Next = null;
    }

    private Node Rent(bool leaf)
    {
        ref Node? spare = ref leaf ? ref _spareLeaves : ref _spareBranches;
        if (spare is Node node)
        {
            spare = node.Next;
            node.Next = null;
            return node;
        }

        return new Node(leaf);
    }

    private void Return(Node node)
    {
        node.Count = 0;
        node.Prev = null;
        ref Node? spare = ref node.IsLeaf ? ref _spareLeaves : ref _spareBranches;
        node.Next = spare;
        spare = node;
    }

    /// <summary>A place in the tree: a leaf and a slot in it.</summary>
    public readonly record struct Position(Node? Leaf, int Slot)
    {
        public Area Area => Leaf!.Areas![Slot];

        /// <summary>The same place, or the first slot of the next leaf when past this one's end; a null leaf past the last area.</summary>
        public Position Normalized() => Leaf is not null && Slot >= Leaf.Count ? new Position(Leaf.Next, 0) : this;

        public Position Next() => new Position(Leaf, Slot + 1).Normalized();
    }

    /// <summary>Areas from a position up to the first one starting after <c>last</c>.</summary>
    public struct Enumerator
    {
        private readonly ulong _last;
        private Position _next;
        private Area _current;

        internal Enumerator(Position first, ulong last)
        {
            _next = first;
            _last = last;
        }

        public readonly Area Current => _current;

        public bool MoveNext()
        {
            if (_next.Leaf is null)
            {
                return false;
            }

            Area area = _next.Area;
            if (area.Iova > _last)
            {
                return false;
            }

            _current = area;
            _next = _next.Next();
            return true;
        }
    }

    /// <summary>A leaf (areas) or a branch (children and their smallest IOVAs).</summary>
    public sealed class Node
    {
        internal Node(bool leaf)
        {
            IsLeaf = leaf;
            if (leaf)
            {
                Areas = new Area[LeafCapacity];
            }
            else
            {
                Keys = new ulong[BranchCapacity];
                Children = new Node[BranchCapacity];
            }
        }

        public bool IsLeaf { get; }

        public int Count { get; set; }

        public Area[]? Areas { get; }

        public ulong[]? Keys { get; }

        public Node[]? Children { get; }

        public Node? Next { get; set; }

        public Node? Prev { get; set; }
    }
}
