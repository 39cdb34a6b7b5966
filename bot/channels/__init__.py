"""The clinic's patient channels: Rasa input channels with validation, rate limits,
signed webhooks and per-channel rendering.

Channel classes (the keys of the credentials file, see README.md here):
- ``bot.channels.rest.ClinicRestInput``             POST /webhooks/rest/webhook
- ``bot.channels.socketio.ClinicSocketIOInput``     /socket.io (website widget)
- ``bot.channels.telegram.ClinicTelegramInput``     POST /webhooks/telegram/webhook
- ``bot.channels.slack.ClinicSlackInput``           POST /webhooks/slack/webhook
- ``bot.channels.facebook.ClinicFacebookInput``     GET+POST /webhooks/facebook/webhook
- ``bot.channels.twilio.ClinicTwilioInput``         POST /webhooks/twilio/webhook (SMS, WhatsApp)
"""
