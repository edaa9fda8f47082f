/*
 * Kept for operator templates (`--views`) written before the page became ES modules: they load
 * `/app/chat.js` as a classic script. It loads the module entry point; the built-in template
 * loads /app/main.js as a module directly.
 */
import('/app/main.js');
