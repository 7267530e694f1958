namespace Tern.Chat.Storage;

/// <summary>
/// A complete chat store: accounts and conversations in one database, closed with the chat.
/// <see cref="SqliteChatDatabase"/> (one node, the default) and <see cref="PostgresChatDatabase"/> (several nodes) implement it.
/// </summary>
public interface IChatStore : IAccountStore, IConversationStore, IAsyncDisposable
{
}
