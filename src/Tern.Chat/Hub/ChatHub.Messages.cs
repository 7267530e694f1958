using System.Collections.Concurrent;
using System.Text;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;
using Tern.Chat.Text;

namespace Tern.Chat.Hub;

// Messages: say, edit, delete, history, read and search.
public sealed partial class ChatHub
{
    /// <summary>Usernames by account id, for the <c>mentions</c> of stored messages (a username never changes).</summary>
    private readonly ConcurrentDictionary<long, string> _usernames = new();

    private async ValueTask<ErrorMessage?> SayAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "say", request.Ref);
        }

        if (request.Text is null)
        {
            return ChatErrors.MissingField("text", "say", request.Ref, conversationId);
        }

        long me = connection.Account.Id;
        if (!await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        if (CheckText(request.Text, request.Ref, conversationId) is { } bad)
        {
            return bad;
        }

        IReadOnlyList<long> mentioned = await FindMentionsAsync(conversationId, request.Text, cancellationToken).ConfigureAwait(false);
        await using ConversationSection section = OpenConversation(conversationId);
        await section.EnterAsync(cancellationToken).ConfigureAwait(false);

        // Checked again under the gate: a leave in between would otherwise let one last message through.
        if (!await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        AppendResult result = await _store.AppendAsync(
            new NewMessage(conversationId, me, request.Text, Now(), request.Ref, mentioned), cancellationToken).ConfigureAwait(false);
        MessageEvent message = await ToEventAsync(result.Message, cancellationToken).ConfigureAwait(false);
        if (!result.Duplicate)
        {
            section.Publish(ChatEventKind.ToMembers, conversationId, 0, ChatJson.Serialize(message));
        }

        await section.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (result.Duplicate)
        {
            // A re-send after a reconnect: stored once already, and the members had it then.
            await SendAsync(connection, message).ConfigureAwait(false);
        }

        return null;
    }

    private async ValueTask<ErrorMessage?> EditAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Id is not { } id)
        {
            return ChatErrors.MissingField("id", "edit", request.Ref);
        }

        if (request.Text is null)
        {
            return ChatErrors.MissingField("text", "edit", request.Ref);
        }

        if (CheckText(request.Text, request.Ref, null) is { } bad)
        {
            return bad;
        }

        long me = connection.Account.Id;
        StoredMessage? original = await FindOwnMessageAsync(id, me, cancellationToken).ConfigureAwait(false);
        if (original is null)
        {
            return ChatErrors.NoSuchMessage(id, "edit", request.Ref);
        }

        long conversationId = original.ConversationId;
        IReadOnlyList<long> mentioned = await FindMentionsAsync(conversationId, request.Text, cancellationToken).ConfigureAwait(false);
        await using ConversationSection section = OpenConversation(conversationId);
        await section.EnterAsync(cancellationToken).ConfigureAwait(false);
        if (!await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NoSuchMessage(id, "edit", request.Ref);
        }

        StoredMessage? edited = await _store.EditAsync(id, me, request.Text, mentioned, Now(), cancellationToken).ConfigureAwait(false);
        if (edited is null)
        {
            return ChatErrors.NoSuchMessage(id, "edit", request.Ref);
        }

        var message = new EditedMessage(await ToEventAsync(edited, cancellationToken).ConfigureAwait(false));
        section.Publish(ChatEventKind.ToMembers, conversationId, 0, ChatJson.Serialize(message));
        await section.CommitAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<ErrorMessage?> DeleteAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Id is not { } id)
        {
            return ChatErrors.MissingField("id", "delete", request.Ref);
        }

        long me = connection.Account.Id;
        StoredMessage? original = await FindOwnMessageAsync(id, me, cancellationToken).ConfigureAwait(false);
        if (original is null)
        {
            return ChatErrors.NoSuchMessage(id, "delete", request.Ref);
        }

        long conversationId = original.ConversationId;
        await using ConversationSection section = OpenConversation(conversationId);
        await section.EnterAsync(cancellationToken).ConfigureAwait(false);
        if (!await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false)
            || await _store.DeleteAsync(id, me, Now(), cancellationToken).ConfigureAwait(false) is null)
        {
            return ChatErrors.NoSuchMessage(id, "delete", request.Ref);
        }

        section.Publish(ChatEventKind.ToMembers, conversationId, 0, ChatJson.Serialize(new DeletedMessage(conversationId, id)));
        await section.CommitAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The account's own live message in a conversation it is still in; null otherwise, whatever the reason (no such
    /// id, someone else's, deleted, or a conversation the account left), so that ids cannot be probed.
    /// </summary>
    private async ValueTask<StoredMessage?> FindOwnMessageAsync(long id, long accountId, CancellationToken cancellationToken)
    {
        StoredMessage? message = await _store.GetMessageAsync(id, cancellationToken).ConfigureAwait(false);
        return message is not null && message.AuthorId == accountId && !message.Deleted
            && await _members.ContainsAsync(message.ConversationId, accountId, cancellationToken).ConfigureAwait(false)
            ? message
            : null;
    }

    private async ValueTask<ErrorMessage?> SendHistoryAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "history", request.Ref);
        }

        if (request.Before is not null && request.After is not null)
        {
            return ChatErrors.BadField("after", "left out when 'before' is given (one direction per page)", request.Ref, conversationId);
        }

        if (!await _members.ContainsAsync(conversationId, connection.Account.Id, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        if (_rateLimits.CheckPull(connection.Client.Id, connection.Account.Id, request.Ref, conversationId) is { } limited)
        {
            return limited;
        }

        // One row more than a page tells whether another page follows.
        int size = _options.HistoryPageSize;
        bool forwards = request.After is not null;
        IReadOnlyList<StoredMessage> rows = forwards
            ? await _store.GetAfterAsync(conversationId, request.After!.Value, size + 1, cancellationToken).ConfigureAwait(false)
            : await _store.GetBeforeAsync(conversationId, request.Before, size + 1, cancellationToken).ConfigureAwait(false);
        bool more = rows.Count > size;
        IEnumerable<StoredMessage> page = !more ? rows : forwards ? rows.Take(size) : rows.Skip(rows.Count - size);

        MessageEvent[] messages = await ToEventsAsync(page, cancellationToken).ConfigureAwait(false);
        (messages, bool cut) = FitPage(messages, _options.HistoryPageBytes, keepNewest: !forwards);
        string json = ChatJson.Serialize(new HistoryMessage(conversationId, messages, more || cut, forwards ? "after" : "before", request.Ref));
        return await SendPulledAsync(connection, json, request.Ref, conversationId).ConfigureAwait(false);
    }

    /// <summary>
    /// Cuts a page (oldest first) to at most <paramref name="maxBytes"/> of serialized messages, keeping the end the
    /// client pages from: the newest when paging backwards, the oldest when paging forwards. At least one message
    /// stays, so paging always advances.
    /// </summary>
    private static (MessageEvent[] Messages, bool Cut) FitPage(MessageEvent[] messages, int maxBytes, bool keepNewest)
    {
        int total = 0;
        int kept = 0;
        for (int i = 0; i < messages.Length; i++)
        {
            MessageEvent message = messages[keepNewest ? messages.Length - 1 - i : i];
            total += ChatJson.Utf8Length(message) + 1;
            if (total > maxBytes && kept > 0)
            {
                break;
            }

            kept++;
        }

        return kept == messages.Length ? (messages, false)
            : keepNewest ? (messages[^kept..], true)
            : (messages[..kept], true);
    }

    private async ValueTask<ErrorMessage?> MarkReadAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "read", request.Ref);
        }

        if (request.Id is not { } id)
        {
            return ChatErrors.MissingField("id", "read", request.Ref, conversationId);
        }

        long me = connection.Account.Id;
        if (!await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        ReadState before = await _store.GetReadStateAsync(conversationId, me, cancellationToken).ConfigureAwait(false);
        if (id <= before.LastReadId)
        {
            // Nothing moves (an old id, or a repeat): only the asker hears where it stands, nobody else is disturbed.
            await SendAsync(connection, new ReadMessage(conversationId, before.LastReadId, before.Unread, before.Mentions)).ConfigureAwait(false);
            return null;
        }

        // In the conversation's order, so that two devices of the person moving it at once on two nodes end up told
        // the same last position everywhere.
        await using ConversationSection section = OpenConversation(conversationId);
        await section.EnterAsync(cancellationToken).ConfigureAwait(false);
        ReadState after = await _store.MarkReadAsync(conversationId, me, id, cancellationToken).ConfigureAwait(false);
        string json = ChatJson.Serialize(new ReadMessage(conversationId, after.LastReadId, after.Unread, after.Mentions));
        if (after.LastReadId != before.LastReadId)
        {
            // Every device of the person moves its unread marks with this one.
            section.Publish(ChatEventKind.ToAccount, conversationId, me, json);
            await section.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await _transport.SendAsync(json, [connection.Client]).ConfigureAwait(false);
        }

        return null;
    }

    private async ValueTask<ErrorMessage?> SearchAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Query is null)
        {
            return ChatErrors.MissingField("query", "search", request.Ref, request.Conversation);
        }

        if (request.Query.Length > _options.MaxQueryLength || !HasSearchWord(request.Query))
        {
            return ChatErrors.BadQuery(_options.MaxQueryLength, request.Ref, request.Conversation);
        }

        long me = connection.Account.Id;
        if (request.Conversation is { } conversationId && !await _members.ContainsAsync(conversationId, me, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        if (_rateLimits.CheckPull(connection.Client.Id, connection.Account.Id, request.Ref, request.Conversation) is { } limited)
        {
            return limited;
        }

        int size = _options.SearchPageSize;
        IReadOnlyList<StoredMessage> rows = await _store.SearchAsync(me, request.Query, request.Conversation, request.Before, size + 1, cancellationToken).ConfigureAwait(false);
        MessageEvent[] messages = await ToEventsAsync(rows.Take(size), cancellationToken).ConfigureAwait(false);
        string json = ChatJson.Serialize(new ResultsMessage(request.Query, messages, rows.Count > size, request.Ref));
        return await SendPulledAsync(connection, json, request.Ref, request.Conversation).ConfigureAwait(false);
    }

    /// <summary>Whether a query has a word of two or more letters or digits (a single letter would match half the store).</summary>
    private static bool HasSearchWord(string query)
    {
        int run = 0;
        foreach (Rune rune in query.EnumerateRunes())
        {
            run = Rune.IsLetterOrDigit(rune) ? run + 1 : 0;
            if (run >= 2)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Sends an answer that spends the connection's pull budget by its size; refused (and not sent) when the budget is short.</summary>
    private async ValueTask<ErrorMessage?> SendPulledAsync(ChatConnection connection, string json, string? clientRef, long? conversationId)
    {
        if (_rateLimits.TryPull(connection.Client.Id, connection.Account.Id, Encoding.UTF8.GetByteCount(json), clientRef, conversationId) is { } limited)
        {
            return limited;
        }

        await _transport.SendAsync(json, [connection.Client]).ConfigureAwait(false);
        return null;
    }

    private ErrorMessage? CheckText(string text, string? clientRef, long? conversationId) =>
        MessageText.Check(text, _options.MaxTextLength, _options.MaxTextLines) is { } problem
            ? ChatErrors.BadMessageText(problem, text, _options.MaxTextLength, _options.MaxTextLines, clientRef, conversationId)
            : null;

    /// <summary>The members of the conversation that the text mentions with @username.</summary>
    private async ValueTask<IReadOnlyList<long>> FindMentionsAsync(long conversationId, string text, CancellationToken cancellationToken)
    {
        IReadOnlyList<IReadOnlyList<string>> candidates = Mentions.Find(text);
        if (candidates.Count == 0)
        {
            return [];
        }

        long[] members = await _members.GetAsync(conversationId, cancellationToken).ConfigureAwait(false);
        var mentioned = new List<long>();
        foreach (IReadOnlyList<string> keys in candidates)
        {
            foreach (string key in keys)
            {
                Account? account = await _accounts.FindAccountAsync(key, cancellationToken).ConfigureAwait(false);
                if (account is not null)
                {
                    _usernames.TryAdd(account.Id, account.Username);
                    if (members.Contains(account.Id) && !mentioned.Contains(account.Id))
                    {
                        mentioned.Add(account.Id);
                    }

                    break;
                }
            }
        }

        return mentioned;
    }

    private async ValueTask<MessageEvent[]> ToEventsAsync(IEnumerable<StoredMessage> messages, CancellationToken cancellationToken)
    {
        var events = new List<MessageEvent>();
        foreach (StoredMessage message in messages)
        {
            events.Add(await ToEventAsync(message, cancellationToken).ConfigureAwait(false));
        }

        return [.. events];
    }

    private async ValueTask<MessageEvent> ToEventAsync(StoredMessage message, CancellationToken cancellationToken)
    {
        _usernames.TryAdd(message.AuthorId, message.AuthorUsername);
        string[]? mentions = null;
        if (!message.Deleted && message.MentionedAccountIds.Count > 0)
        {
            mentions = new string[message.MentionedAccountIds.Count];
            for (int i = 0; i < mentions.Length; i++)
            {
                mentions[i] = await UsernameAsync(message.MentionedAccountIds[i], cancellationToken).ConfigureAwait(false);
            }
        }

        return new MessageEvent(
            message.Id,
            message.ConversationId,
            message.AuthorUsername,
            message.AuthorDisplayName,
            message.Deleted ? null : message.Text,
            message.Time,
            message.Edited,
            message.Deleted ? true : null,
            mentions,
            message.ClientRef);
    }

    private async ValueTask<string> UsernameAsync(long accountId, CancellationToken cancellationToken)
    {
        if (_usernames.TryGetValue(accountId, out string? username))
        {
            return username;
        }

        Account? account = await _accounts.GetAccountAsync(accountId, cancellationToken).ConfigureAwait(false);
        username = account?.Username ?? "?";
        if (account is not null)
        {
            _usernames.TryAdd(accountId, username);
        }

        return username;
    }
}
