using Tern.Chat.Protocol;

namespace Tern.Chat.Hub;

/// <summary>
/// What each node says of each account's presence (its own connections of the account: online, away or none), and
/// what that adds up to over all nodes: online when any node has the account online, else away when any has it
/// away, else offline. On one node it is simply that node's view. Thread-safe.
/// </summary>
/// <remarks>Offline entries are not kept, so the board holds only the accounts that are connected somewhere.</remarks>
internal sealed class PresenceBoard
{
    private readonly object _lock = new();
    private readonly Dictionary<long, Account> _accounts = [];

    /// <summary>An account's status over all nodes, with its username; null when it is offline everywhere.</summary>
    public (string Username, string Status)? Find(long accountId)
    {
        lock (_lock)
        {
            return _accounts.TryGetValue(accountId, out Account? account) ? (account.Username, account.Status) : null;
        }
    }

    /// <summary>An account's status over all nodes.</summary>
    public string StatusOf(long accountId) => Find(accountId)?.Status ?? PresenceStatus.Offline;

    /// <summary>Records one node's status of an account; returns the status over all nodes when that changed.</summary>
    public PresenceChange? Set(PresenceEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_lock)
        {
            string before = StatusLocked(entry.AccountId);
            if (entry.Status == PresenceStatus.Offline)
            {
                if (_accounts.TryGetValue(entry.AccountId, out Account? known) && known.ByNode.Remove(entry.Node) && known.ByNode.Count == 0)
                {
                    _accounts.Remove(entry.AccountId);
                }
            }
            else
            {
                if (!_accounts.TryGetValue(entry.AccountId, out Account? account))
                {
                    _accounts[entry.AccountId] = account = new Account(entry.Username);
                }

                account.ByNode[entry.Node] = entry.Status;
            }

            string after = StatusLocked(entry.AccountId);
            return after == before ? null : new PresenceChange(entry.AccountId, entry.Username, after);
        }
    }

    /// <summary>Forgets everything a node said (it is gone); returns the accounts whose status over all nodes changed.</summary>
    public List<PresenceChange> RemoveNode(string node)
    {
        lock (_lock)
        {
            var changes = new List<PresenceChange>();
            foreach ((long accountId, Account account) in _accounts.ToArray())
            {
                string before = account.Status;
                if (account.ByNode.Remove(node))
                {
                    Settle(accountId, account, before, changes);
                }
            }

            return changes;
        }
    }

    /// <summary>
    /// Replaces what every node but <paramref name="keepNode"/> (this process, which knows its own connections best)
    /// said, with <paramref name="entries"/>; returns the accounts whose status over all nodes changed.
    /// </summary>
    public List<PresenceChange> ReplaceOthers(IEnumerable<PresenceEntry> entries, string keepNode) => Replace(entries, node => node != keepNode);

    /// <summary>Replaces everything one node said with <paramref name="entries"/> (its own list); returns the accounts whose status over all nodes changed.</summary>
    public List<PresenceChange> ReplaceNode(string node, IEnumerable<PresenceEntry> entries) => Replace(entries, n => n == node);

    private List<PresenceChange> Replace(IEnumerable<PresenceEntry> entries, Func<string, bool> replaced)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_lock)
        {
            Dictionary<long, string> before = _accounts.ToDictionary(a => a.Key, a => a.Value.Status);
            foreach (Account account in _accounts.Values)
            {
                foreach (string node in account.ByNode.Keys.Where(replaced).ToArray())
                {
                    account.ByNode.Remove(node);
                }
            }

            foreach (PresenceEntry entry in entries)
            {
                if (!replaced(entry.Node) || entry.Status == PresenceStatus.Offline)
                {
                    continue;
                }

                if (!_accounts.TryGetValue(entry.AccountId, out Account? account))
                {
                    _accounts[entry.AccountId] = account = new Account(entry.Username);
                }

                account.ByNode[entry.Node] = entry.Status;
            }

            // Every account known before is still in the dictionary (only its entries were removed), so each is compared
            // here, and the ones left with no entry go.
            var changes = new List<PresenceChange>();
            foreach ((long accountId, string status) in before)
            {
                Account account = _accounts[accountId];
                if (account.ByNode.Count == 0)
                {
                    _accounts.Remove(accountId);
                }

                if (account.Status != status)
                {
                    changes.Add(new PresenceChange(accountId, account.Username, account.Status));
                }
            }

            foreach ((long accountId, Account account) in _accounts)
            {
                if (!before.ContainsKey(accountId))
                {
                    changes.Add(new PresenceChange(accountId, account.Username, account.Status));
                }
            }

            return changes;
        }
    }

    private string StatusLocked(long accountId) => _accounts.TryGetValue(accountId, out Account? account) ? account.Status : PresenceStatus.Offline;

    private void Settle(long accountId, Account account, string before, List<PresenceChange> changes)
    {
        if (account.ByNode.Count == 0)
        {
            _accounts.Remove(accountId);
        }

        string after = account.Status;
        if (after != before)
        {
            changes.Add(new PresenceChange(accountId, account.Username, after));
        }
    }

    private sealed class Account(string username)
    {
        public string Username { get; } = username;

        public Dictionary<string, string> ByNode { get; } = [];

        public string Status =>
            ByNode.Count == 0 ? PresenceStatus.Offline
            : ByNode.ContainsValue(PresenceStatus.Online) ? PresenceStatus.Online
            : PresenceStatus.Away;
    }
}

/// <summary>An account's status over all nodes changed to <paramref name="Status"/>.</summary>
internal readonly record struct PresenceChange(long AccountId, string Username, string Status);
