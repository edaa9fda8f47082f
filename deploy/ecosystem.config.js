// pm2 process file: the role pm2 played for the Node original (daemon, restart on crash,
// `pm2 list`), now running the chatroom binary.
//   cargo build --release && pm2 start deploy/ecosystem.config.js && pm2 list
module.exports = {
  apps: [
    {
      name: 'chatroom',
      script: './target/release/chatroom',
      interpreter: 'none', // a native binary, not a Node script
      cwd: __dirname + '/..',
      autorestart: true,
      restart_delay: 1000,
      max_restarts: 50,
      kill_timeout: 8000, // chatroom drains clients within 5 s of SIGINT
      env: {
        PORT: 3000,
        CHATROOM_DB: 'sqlite://chatroom.db',
        RUST_LOG: 'info',
      },
    },
  ],
};
