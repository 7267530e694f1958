namespace Tern.Chat.Cluster;

/// <summary>Timings of <see cref="PostgresChatFanout"/>: heartbeats, how soon a silent node is given up, how long events are kept.</summary>
public sealed class PostgresFanoutOptions
{
    /// <summary>How often a node renews its heartbeat row and looks for nodes that stopped renewing theirs. Default 3 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long after its last heartbeat a node that stopped (killed, or cut off from PostgreSQL) is given up: its
    /// accounts' presence is then offline on every node. Default 15 s. A node that was only slow and comes back
    /// announces its accounts again.
    /// </summary>
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long published events are kept for nodes that lost their listening connection to catch up on. A node cut
    /// off for longer closes its connections so that the clients catch up from the store instead. Default 10 minutes.
    /// </summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How far before its last good heartbeat a reconnecting node starts reading missed events (events it already
    /// delivered are skipped by their sequence number). Covers the time between an event's insert and its commit, and
    /// clock steps. Default 30 s.
    /// </summary>
    public TimeSpan CatchUpMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between attempts to reconnect the listening connection (the first is immediate, then doubling from 250 ms). Default 5 s.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The NOTIFY channel; nodes on one database with different channels do not hear each other. Default "tern_chat".</summary>
    public string Channel { get; set; } = "tern_chat";

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatInterval, TimeSpan.FromMilliseconds(100), nameof(HeartbeatInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(NodeTimeout, HeartbeatInterval * 2, nameof(NodeTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(CatchUpMargin, TimeSpan.FromSeconds(1), nameof(CatchUpMargin));
        ArgumentOutOfRangeException.ThrowIfLessThan(EventRetention, CatchUpMargin * 4, nameof(EventRetention));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnectDelay, TimeSpan.FromMilliseconds(250), nameof(MaxReconnectDelay));
        if (string.IsNullOrEmpty(Channel) || Channel.Length > 63 || !Channel.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            throw new ArgumentOutOfRangeException(nameof(Channel), Channel, "Lower-case letters, digits and '_', at most 63.");
        }
    }
}
