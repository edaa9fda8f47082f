// The Express app of the original chat room: EJS registered for .html views (seed, step 1).
var express = require('express');
var path = require('path');
var indexRouter = require('./routes/index');

var app = express();

app.engine('.html', require('ejs').__express);
app.set('view engine', 'html');
app.set('views', path.join(__dirname, 'views'));

app.use('/', indexRouter);

app.use(function (req, res) {
  res.status(404).send('Not Found');
});

module.exports = app;
