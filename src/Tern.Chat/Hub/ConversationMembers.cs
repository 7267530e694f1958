using System.Collections.Concurrent;
using Tern.Chat.Storage;

namespace Tern.Chat.Hub;

/// <summary>
/// Which accounts are members of which conversation: loaded from the store on first use, then kept up to date by the
/// membership events every process receives. Membership checks and deliveries read it instead of the store.
/// </summary>
/// <remarks>
/// <para>A load and the events can overlap: while a conversation is loading, its events are recorded and replayed on
/// the loaded set. Adding and removing a member are absolute ("X is / is not a member"), so replaying an event the
/// load already saw changes nothing, and the set ends as the last event left it.</para>
/// <para>Conversations with no members are not kept, so asking about made-up ids does not fill memory.</para>
/// </remarks>
internal sealed class ConversationMembers(IConversationStore store)
{
    private readonly ConcurrentDictionary<long, Entry> _entries = new();

    /// <summary>The members of a conversation (empty for one that does not exist): a snapshot, never changed.</summary>
    public async ValueTask<long[]> GetAsync(long conversationId, CancellationToken cancellationToken)
    {
        Entry entry = _entries.GetOrAdd(conversationId, static _ => new Entry());
        if (entry.TryGet(out long[]? members))
        {
            return members;
        }

        entry.StartLoading();
        IReadOnlyList<MemberInfo> loaded;
        try
        {
            loaded = await store.GetMembersAsync(conversationId, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            entry.StopLoading();
            throw;
        }

        members = entry.Complete(loaded.Select(m => m.AccountId));
        if (members.Length == 0)
        {
            _entries.TryRemove(new KeyValuePair<long, Entry>(conversationId, entry));
        }

        return members;
    }

    /// <summary>Whether the account is a member (false for conversations that do not exist).</summary>
    public async ValueTask<bool> ContainsAsync(long conversationId, long accountId, CancellationToken cancellationToken) =>
        Array.IndexOf(await GetAsync(conversationId, cancellationToken).ConfigureAwait(false), accountId) >= 0;

    /// <summary>Forgets a conversation's members (a change that was not committed may have been loaded); the next use loads them again.</summary>
    public void Forget(long conversationId) => _entries.TryRemove(conversationId, out _);

    /// <summary>Forgets every conversation's members (events that kept them up to date were lost).</summary>
    public void Clear() => _entries.Clear();

    /// <summary>Records that a membership started or ended (from an event, after the store changed).</summary>
    public void Apply(long conversationId, long accountId, bool isMember)
    {
        if (_entries.TryGetValue(conversationId, out Entry? entry) && entry.Apply(accountId, isMember) == 0)
        {
            _entries.TryRemove(new KeyValuePair<long, Entry>(conversationId, entry));
        }
    }

    private sealed class Entry
    {
        private readonly object _lock = new();
        private HashSet<long>? _members;
        private long[] _snapshot = [];
        private List<(long AccountId, bool IsMember)>? _pending;
        private int _loaders;

        public bool TryGet([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out long[]? members)
        {
            lock (_lock)
            {
                members = _members is null ? null : _snapshot;
                return members is not null;
            }
        }

        public void StartLoading()
        {
            lock (_lock)
            {
                _loaders++;
                _pending ??= [];
            }
        }

        public void StopLoading()
        {
            lock (_lock)
            {
                if (--_loaders == 0 && _members is null)
                {
                    _pending = null;
                }
            }
        }

        public long[] Complete(IEnumerable<long> loaded)
        {
            lock (_lock)
            {
                _loaders--;
                if (_members is null)
                {
                    _members = [.. loaded];
                    foreach ((long accountId, bool isMember) in _pending ?? [])
                    {
                        Change(accountId, isMember);
                    }

                    _pending = null;
                    _snapshot = [.. _members];
                }

                return _snapshot;
            }
        }

        /// <summary>Applies a change; returns the member count, or -1 while not loaded.</summary>
        public int Apply(long accountId, bool isMember)
        {
            lock (_lock)
            {
                if (_members is null)
                {
                    // Nobody loading: the next load reads the store, which already has the change.
                    _pending?.Add((accountId, isMember));
                    return -1;
                }

                Change(accountId, isMember);
                _snapshot = [.. _members];
                return _members.Count;
            }
        }

        private void Change(long accountId, bool isMember)
        {
            if (isMember)
            {
                _members!.Add(accountId);
            }
            else
            {
                _members!.Remove(accountId);
            }
        }
    }
}
