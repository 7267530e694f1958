using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Chat.Accounts;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;
using Tern.Chat.Text;

namespace Tern.Chat.Hub;

// People: presence, typing, display names, sign-out, and the delivery of every event to this hub's connections.
public sealed partial class ChatHub
{
    private async ValueTask<ErrorMessage?> TypingAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "typing", request.Ref);
        }

        OnlineAccount account = connection.Account;
        if (!await _members.ContainsAsync(conversationId, account.Id, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        long interval = (long)(_options.TypingInterval.TotalSeconds * _time.TimestampFrequency);
        if (account.TryType(conversationId, _time.GetTimestamp(), interval))
        {
            string json = ChatJson.Serialize(new TypingMessage(conversationId, account.Username));
            await _fanout.PublishAsync(new ChatEvent(ChatEventKind.ToMembers, conversationId, account.Id, json) { Ephemeral = true }, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    private async ValueTask<ErrorMessage?> SetPresenceAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Status is null)
        {
            return ChatErrors.MissingField("status", "presence", request.Ref);
        }

        if (request.Status is not (PresenceStatus.Online or PresenceStatus.Away))
        {
            return ChatErrors.BadStatus(request.Ref);
        }

        OnlineAccount account = connection.Account;
        await account.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            connection.Away = request.Status == PresenceStatus.Away;
            await AnnouncePresenceLockedAsync(account, cancellationToken).ConfigureAwait(false);
            return null;
        }
        finally
        {
            account.Gate.Release();
        }
    }

    /// <summary>
    /// Tells the account's contacts its presence if it differs from what they were told last; under the account's gate.
    /// A change between online and away within <see cref="ChatHubOptions.PresenceInterval"/> of the last announcement
    /// is held back, and a timer announces the status as it is then, so that flipping costs contacts at most one
    /// message per interval yet never leaves them with a stale status. Going offline or coming back is announced at
    /// once: it costs a connection, and holding it back could let a late "offline" overtake a reconnection.
    /// </summary>
    /// <param name="account">The account.</param>
    /// <param name="cancellationToken">Cancels the announcement.</param>
    /// <param name="intervalElapsed">Called from the timer: the interval is over, whatever the clock says.</param>
    private async ValueTask AnnouncePresenceLockedAsync(OnlineAccount account, CancellationToken cancellationToken, bool intervalElapsed = false)
    {
        string status = account.Status;
        if (status == account.AnnouncedStatus)
        {
            return; // Also when a flip came back before a held-back one went out: the pending timer then finds nothing to say.
        }

        long now = _time.GetTimestamp();
        if (!intervalElapsed && status != PresenceStatus.Offline && account.AnnouncedStatus != PresenceStatus.Offline)
        {
            long wait = account.AnnouncedAt + (long)(_options.PresenceInterval.TotalSeconds * _time.TimestampFrequency) - now;
            if (wait > 0)
            {
                account.PresenceTimer ??= _time.CreateTimer(
                    static state => ((PresenceHold)state!).Fire(),
                    new PresenceHold(this, account),
                    TimeSpan.FromSeconds(wait / (double)_time.TimestampFrequency),
                    Timeout.InfiniteTimeSpan);
                return;
            }
        }

        CancelHeldPresence(account);
        account.AnnouncedStatus = status;
        account.AnnouncedAt = now;

        // What this node's connections add up to; each node tells the contacts it serves the status over all nodes.
        var presence = new ChatEvent(ChatEventKind.Presence, 0, account.Id, null) { Presence = new PresenceEntry(_fanout.NodeId, account.Id, account.Username, status) };
        await _fanout.PublishAsync(presence, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops a pending held-back announcement (under the gate): what is announced now supersedes it.</summary>
    private static void CancelHeldPresence(OnlineAccount account)
    {
        account.PresenceTimer?.Dispose();
        account.PresenceTimer = null;
    }

    /// <summary>The state of a held-back announcement's timer.</summary>
    private sealed class PresenceHold(ChatHub hub, OnlineAccount account)
    {
        public void Fire() => _ = hub.AnnounceHeldPresenceAsync(account);
    }

    /// <summary>The interval after a held-back change is over: announce the status as it is now.</summary>
    private async Task AnnounceHeldPresenceAsync(OnlineAccount account)
    {
        await account.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            CancelHeldPresence(account);
            if (!_disposed && !account.Removed)
            {
                await AnnouncePresenceLockedAsync(account, CancellationToken.None, intervalElapsed: true).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Announcing the held-back presence of {Username} failed", account.Username);
        }
        finally
        {
            account.Gate.Release();
        }
    }

    private async ValueTask<ErrorMessage?> SetProfileAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.DisplayName is null)
        {
            return ChatErrors.MissingField("displayName", "profile", request.Ref);
        }

        // The same rules as at sign-up (trimmed, NFC, one line, nothing that reorders or hides the page).
        if (!DisplayNameRules.TryNormalize(request.DisplayName, out string? name, out MessageTextProblem problem))
        {
            return ChatErrors.BadDisplayName(problem, DisplayNameRules.MaxLength, request.Ref);
        }

        OnlineAccount account = connection.Account;
        await _accounts.SetDisplayNameAsync(account.Id, name, cancellationToken).ConfigureAwait(false);
        account.DisplayName = name;
        string json = ChatJson.Serialize(new ProfileMessage(account.Username, name));
        await _fanout.PublishAsync(new ChatEvent(ChatEventKind.ToContacts, 0, account.Id, json) { DisplayName = name }, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The accounts that share a conversation with the account (not the account itself), from the given conversation
    /// ids, else the ones this hub follows for it, else the store's list.
    /// </summary>
    private async ValueTask<HashSet<long>> ContactsAsync(long accountId, IEnumerable<long>? conversationIds, CancellationToken cancellationToken)
    {
        conversationIds ??= _online.Find(accountId)?.ConversationIds
            ?? (await _store.GetConversationsAsync(accountId, cancellationToken).ConfigureAwait(false)).Select(s => s.Conversation.Id);
        var contacts = new HashSet<long>();
        foreach (long conversationId in conversationIds)
        {
            contacts.UnionWith(await _members.GetAsync(conversationId, cancellationToken).ConfigureAwait(false));
        }

        contacts.Remove(accountId);
        return contacts;
    }

    /// <summary>Delivers an event from the fan-out to this hub's connections.</summary>
    /// <remarks>
    /// With <see cref="LocalChatFanout"/> this runs inside <see cref="IChatFanout.PublishAsync"/>, under the
    /// publisher's conversation gate when it holds one, so it must not take a gate itself.
    /// </remarks>
    private async ValueTask DeliverAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            return;
        }

        switch (chatEvent.Kind)
        {
            case ChatEventKind.ToMembers:
                await SendToMembersAsync(chatEvent.ConversationId, chatEvent.Json, chatEvent.AccountId, cancellationToken).ConfigureAwait(false);
                break;
            case ChatEventKind.ToAccount:
                await SendToAccountsAsync([chatEvent.AccountId], chatEvent.Json).ConfigureAwait(false);
                break;
            case ChatEventKind.MemberJoined or ChatEventKind.MemberLeft:
                ApplyMembership(chatEvent);
                await SendToMembersAsync(chatEvent.ConversationId, chatEvent.Json, chatEvent.AccountId, cancellationToken).ConfigureAwait(false);
                if (chatEvent.Json is not null)
                {
                    ScheduleDirectory(); // A room's count changed (direct conversations are not listed).
                }

                break;
            case ChatEventKind.ToContacts:
                if (chatEvent.DisplayName is not null && _online.Find(chatEvent.AccountId) is { } renamed)
                {
                    renamed.DisplayName = chatEvent.DisplayName; // Its connections here announce the new name from now on.
                }

                HashSet<long> contacts = await ContactsAsync(chatEvent.AccountId, null, cancellationToken).ConfigureAwait(false);
                contacts.Add(chatEvent.AccountId);
                await SendToAccountsAsync(contacts, chatEvent.Json).ConfigureAwait(false);
                break;
            case ChatEventKind.Presence when chatEvent.Presence is not null:
                if (_presence.Set(chatEvent.Presence) is { } changed)
                {
                    await TellPresenceAsync(changed, cancellationToken).ConfigureAwait(false);
                }

                break;
            case ChatEventKind.PresenceSnapshot when chatEvent.Snapshot is not null:
                List<PresenceChange> changes = chatEvent.Node is null
                    ? _presence.ReplaceOthers(chatEvent.Snapshot, _fanout.NodeId)
                    : _presence.ReplaceNode(chatEvent.Node, chatEvent.Snapshot);
                foreach (PresenceChange change in changes)
                {
                    await TellPresenceAsync(change, cancellationToken).ConfigureAwait(false);
                }

                break;
            case ChatEventKind.NodeGone when chatEvent.Node == _fanout.NodeId:
                await AnnounceEveryoneAgainAsync(cancellationToken).ConfigureAwait(false);
                break;
            case ChatEventKind.NodeGone when chatEvent.Node is not null:
                foreach (PresenceChange change in _presence.RemoveNode(chatEvent.Node))
                {
                    await TellPresenceAsync(change, cancellationToken).ConfigureAwait(false);
                }

                break;
            case ChatEventKind.SignOut:
                await CloseAccountAsync(chatEvent.AccountId, chatEvent.SessionId).ConfigureAwait(false);
                break;
            case ChatEventKind.Resync:
                await ResyncAsync().ConfigureAwait(false);
                break;
        }
    }

    /// <summary>A membership started or ended: the member cache and the account's conversation list follow.</summary>
    private void ApplyMembership(ChatEvent change)
    {
        bool joined = change.Kind == ChatEventKind.MemberJoined;
        _members.Apply(change.ConversationId, change.AccountId, joined);
        _online.Find(change.AccountId)?.SetMember(change.ConversationId, joined);
    }

    /// <summary>Tells the contacts connected here an account's status over all nodes.</summary>
    private async ValueTask TellPresenceAsync(PresenceChange change, CancellationToken cancellationToken)
    {
        HashSet<long> contacts = await ContactsAsync(change.AccountId, null, cancellationToken).ConfigureAwait(false);
        await SendToAccountsAsync(contacts, ChatJson.Serialize(new PresenceMessage(change.Username, change.Status))).ConfigureAwait(false);
    }

    /// <summary>
    /// The other nodes gave this one up for dead (it missed heartbeats) and forgot its presence entries, or its
    /// announcements may have failed while PostgreSQL was out of reach: publish this node's whole list at once (every
    /// account connected here and its status), which replaces whatever the other nodes hold for this node, so that
    /// only real changes reach the contacts.
    /// </summary>
    private async ValueTask AnnounceEveryoneAgainAsync(CancellationToken cancellationToken)
    {
        var entries = new List<PresenceEntry>();
        long now = _time.GetTimestamp();
        foreach (OnlineAccount account in _online.Accounts())
        {
            await account.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!account.Removed)
                {
                    CancelHeldPresence(account);
                    account.AnnouncedStatus = account.Status;
                    account.AnnouncedAt = now;
                    if (account.AnnouncedStatus != PresenceStatus.Offline)
                    {
                        entries.Add(new PresenceEntry(_fanout.NodeId, account.Id, account.Username, account.AnnouncedStatus));
                    }
                }
            }
            finally
            {
                account.Gate.Release();
            }
        }

        await _fanout.PublishAsync(new ChatEvent(ChatEventKind.PresenceSnapshot, 0, 0, null) { Node = _fanout.NodeId, Snapshot = entries }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The fan-out lost events for good: what was built from them (member lists) may be wrong, so it is dropped, and
    /// every connection is closed with 1012 so that its client reconnects and catches up from the store.
    /// </summary>
    private async ValueTask ResyncAsync()
    {
        _members.Clear();
        ChatConnection[] connections = _online.Connections();
        _logger.LogWarning("Events between nodes were lost; closing {Count} connection(s) so that their clients catch up from the store", connections.Length);
        await CloseConnectionsAsync(connections, ServiceRestartCloseCode, "catching up").ConfigureAwait(false);
    }

    private async ValueTask SendToMembersAsync(long conversationId, string? json, long exceptAccountId, CancellationToken cancellationToken)
    {
        if (json is null)
        {
            return;
        }

        long[] members = await _members.GetAsync(conversationId, cancellationToken).ConfigureAwait(false);
        List<IChatClient> recipients = _online.RecipientsOf(members, json, exceptAccountId);
        if (recipients.Count > 0)
        {
            await _transport.SendAsync(json, recipients).ConfigureAwait(false);
        }
    }

    private async ValueTask SendToAccountsAsync(IEnumerable<long> accountIds, string? json)
    {
        if (json is null)
        {
            return;
        }

        List<IChatClient> recipients = _online.RecipientsOf(accountIds, json);
        if (recipients.Count > 0)
        {
            await _transport.SendAsync(json, recipients).ConfigureAwait(false);
        }
    }

    private async ValueTask CloseAccountAsync(long accountId, string? sessionId)
    {
        if (_online.Find(accountId) is not { } account)
        {
            return;
        }

        ChatConnection[] closing = Array.FindAll([.. account.Connections], c => sessionId is null || c.SessionId == sessionId);
        await CloseConnectionsAsync(closing, SignedOutCloseCode, SignedOutReason).ConfigureAwait(false);
        _logger.LogInformation("{Username} signed out {Where}; {Count} connection(s) closed", account.Username, sessionId is null ? "everywhere" : "on one device", closing.Length);
    }

    /// <summary>Marks the connections closed (nothing they still send counts) and starts closing each; a failure is logged and the rest still close.</summary>
    private async ValueTask CloseConnectionsAsync(IEnumerable<ChatConnection> connections, int closeCode, string reason)
    {
        foreach (ChatConnection connection in connections)
        {
            connection.Closed = true;
            try
            {
                await _transport.CloseAsync(connection.Client, closeCode, reason).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Closing connection {Client} of {Username} ({Code} {Reason}) failed", connection.Client.Id, connection.Account.Username, closeCode, reason);
            }
        }
    }
}
