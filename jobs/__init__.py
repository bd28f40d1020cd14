"""The worker side of the deploy flow: queue -> clone -> build -> run -> switch."""
