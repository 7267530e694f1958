using System.Text;
using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>Full-text search over the FTS5 index of message texts.</summary>
public sealed partial class SqliteChatDatabase
{
    /// <inheritdoc/>
    /// <remarks>
    /// The words become an FTS5 query in which each is a quoted string, so nothing a person types (quotes, <c>*</c>,
    /// <c>OR</c>, <c>NEAR(</c>, <c>-</c>, <c>:</c>) is read as search syntax. Words without a letter or digit are
    /// dropped (the index has nothing for them); a query left with none finds nothing.
    /// </remarks>
    public ValueTask<IReadOnlyList<StoredMessage>> SearchAsync(long accountId, string query, long? conversationId, long? beforeId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        string? match = ToMatchExpression(query);
        if (match is null || limit == 0)
        {
            return new([]);
        }

        // The index yields rowids in descending order under the rowid bound, so the newest matches come first and the
        // scan stops at the limit; membership and the conversation filter are checked per match.
        return new(ReadAsync<IReadOnlyList<StoredMessage>>(async t => await t.QueryAsync($"""
            SELECT {MessageColumns}
            FROM messages_fts f
            JOIN messages m ON m.id = f.rowid
            JOIN accounts a ON a.id = m.author_id
            JOIN members me ON me.conversation_id = m.conversation_id AND me.account_id = $account
            WHERE messages_fts MATCH $match
                AND f.rowid < $before
                AND m.deleted = 0
                AND ($conversation IS NULL OR m.conversation_id = $conversation)
            ORDER BY f.rowid DESC
            LIMIT $limit;
            """, ReadMessage, cancellationToken, ("$account", accountId), ("$match", match), ("$before", beforeId ?? long.MaxValue),
            ("$conversation", conversationId), ("$limit", limit)).ConfigureAwait(false), cancellationToken));
    }

    /// <summary>
    /// The FTS5 expression for words typed by a person: every word a quoted string (inner quotes doubled, the FTS5
    /// escape), all of them required, the last one a prefix. Null when no word has a letter or digit.
    /// </summary>
    internal static string? ToMatchExpression(string query)
    {
        // Control characters separate words too: FTS5 reads its expression as a C string, so a NUL would end it early.
        string[] words = string.Concat(query.Select(c => char.IsControl(c) ? ' ' : c))
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Where(word => word.Any(char.IsLetterOrDigit))
            .ToArray();
        if (words.Length == 0)
        {
            return null;
        }

        var expression = new StringBuilder();
        foreach (string word in words)
        {
            if (expression.Length > 0)
            {
                expression.Append(' ');
            }

            expression.Append('"').Append(word.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
        }

        return expression.Append('*').ToString();
    }
}
