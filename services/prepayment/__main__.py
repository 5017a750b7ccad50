from services.prepayment.app import main

main()
